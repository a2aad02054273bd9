"""Cheap script-based language detection: ru, en or other."""

from __future__ import annotations

import re

__all__ = ["detect_language"]

_LATIN = re.compile(r"[A-Za-z]")
# Letters are counted by encoding and deleting every other byte, two C passes each: the
# ASCII letters of `[A-Za-z]` are ASCII bytes, and the Cyrillic letters of `[А-Яа-яЁё]`
# are exactly the cp1251 bytes 0xC0-0xFF, 0xA8 and 0xB8 (a charmap codec encodes one
# character to each byte, so nothing else lands on them; what cp1251 cannot encode is
# dropped). A unit test holds both counts to the regex definitions.
_LATIN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_NOT_LATIN_BYTES = bytes(b for b in range(256) if b not in _LATIN_BYTES)
_CYRILLIC_BYTES = frozenset([*range(0xC0, 0x100), 0xA8, 0xB8])
_NOT_CYRILLIC_BYTES = bytes(b for b in range(256) if b not in _CYRILLIC_BYTES)
_EN_WORDS = re.compile(
    r"\b(?:the|a|an|is|are|was|my|i|you|your|to|of|and|not|no|it|this|in|on|for|with|have|"
    r"can|please|order|why|what|how|when|hi|hello|thanks|help)\b",
    re.IGNORECASE,
)
# Detection reads the head of long texts only: a 100 KB email is not more Russian at the end.
_SAMPLE = 2000


def detect_language(text: str) -> str:
    """Return 'ru' if Cyrillic dominates, 'en' for English-looking Latin text, else 'other'.

    Latin text without any common English word (transliterated Russian such as
    'ne rabotaet internet', or another language) is 'other' rather than a guessed 'en'.
    """
    sample = text[:_SAMPLE]
    if sample.isascii():
        # No Cyrillic possible: the counts only matter as "any Latin letter at all".
        if _LATIN.search(sample) is None:
            return "other"
        return "en" if _EN_WORDS.search(sample) else "other"
    cyr = count_cyrillic(sample)
    lat = count_latin(sample)
    if cyr == 0 and lat == 0:
        return "other"
    if cyr >= lat:
        return "ru"
    if _EN_WORDS.search(sample):
        return "en"
    return "other"


def count_cyrillic(text: str) -> int:
    """Number of characters of `text` in `[А-Яа-яЁё]`."""
    return len(text.encode("cp1251", "ignore").translate(None, _NOT_CYRILLIC_BYTES))


def count_latin(text: str) -> int:
    """Number of characters of `text` in `[A-Za-z]`."""
    return len(text.encode("ascii", "ignore").translate(None, _NOT_LATIN_BYTES))
