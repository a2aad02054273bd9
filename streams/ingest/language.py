"""Cheap script-based language detection: ru, en or other."""

from __future__ import annotations

import re

__all__ = ["detect_language"]

_LATIN = re.compile(r"[A-Za-z]")
# Letters are counted by deleting everything else: one C pass that drops whole runs,
# cheaper than a findall that builds a one-character string per letter.
_NOT_CYRILLIC = re.compile(r"[^А-Яа-яЁё]+")
_NOT_LATIN = re.compile(r"[^A-Za-z]+")
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
    cyr = len(_NOT_CYRILLIC.sub("", sample))
    lat = len(_NOT_LATIN.sub("", sample))
    if cyr == 0 and lat == 0:
        return "other"
    if cyr >= lat:
        return "ru"
    if _EN_WORDS.search(sample):
        return "en"
    return "other"
