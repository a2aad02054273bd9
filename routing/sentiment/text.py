"""Tokenizer, script detection, transliteration and morphology backends shared by analyzers."""

from __future__ import annotations

import re
from typing import Final, Literal, Protocol

__all__ = [
    "CYRILLIC_RE",
    "TOKEN_RE",
    "Morphology",
    "MorphologyName",
    "PymorphyMorphology",
    "PymorphyStemMorphology",
    "SnowballMorphology",
    "chunk_tokens",
    "fold",
    "is_cyrillic",
    "make_morphology",
    "tokenize",
    "transliterate",
]

# One regex for the whole hot path. Alternatives, in order: western emoticons, a heart,
# runs of parentheses (Russian writes ")))" for a smile and "(((" for sadness), single
# emoji / pictographs, words (with inner apostrophes or hyphens: "don't", "чуть-чуть"),
# runs of "!" / "?", and clause punctuation (it ends a negation's scope). Digits and other
# symbols are skipped: they carry no lexical sentiment.
TOKEN_RE: Final = re.compile(
    r"[:;=][\-'^]?[()\[\]DdPpOo3*]+(?![A-Za-z])"
    r"|<3"
    r"|\)+|\(+"
    r"|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55]"
    r"|[^\W\d_]+(?:['’\-][^\W\d_]+)*"
    r"|[!?]+"
    r"|[.,;:]"
)

CYRILLIC_RE: Final = re.compile(r"[а-яёА-ЯЁ]")

MorphologyName = Literal["snowball", "pymorphy", "pymorphy+stem"]


def tokenize(text: str) -> list[str]:
    """Split text into the analyzer's tokens (words, emoticons, emoji, "!"/"?" runs)."""
    return TOKEN_RE.findall(text)


# The sentiment analyzer and the intent matcher each cache their results per chunk, so
# both tokenize a chunk neither has seen, one right after the other: the tokens of the
# latest few thousand chunks are kept for the second one. Emptied as a whole when full.
_CHUNK_TOKENS: dict[str, tuple[str, ...]] = {}
_CHUNK_TOKENS_LIMIT: Final = 4096


def chunk_tokens(chunk: str) -> tuple[str, ...]:
    """`tokenize(chunk)` as a tuple, for a whitespace-free chunk of a text (memoized)."""
    tokens = _CHUNK_TOKENS.get(chunk)
    if tokens is None:
        tokens = tuple(TOKEN_RE.findall(chunk))
        if len(_CHUNK_TOKENS) >= _CHUNK_TOKENS_LIMIT:
            _CHUNK_TOKENS.clear()
        _CHUNK_TOKENS[chunk] = tokens
    return tokens


def fold(word: str) -> str:
    """Lower-case a word and fold the spellings that do not change meaning (ё→е, ’→')."""
    return word.lower().replace("ё", "е").replace("’", "'")


def is_cyrillic(word: str) -> bool:
    """Whether a (folded) word starts with a Cyrillic letter."""
    return "а" <= word[0] <= "я" if word else False


class Morphology(Protocol):
    """Maps a folded word to the key that lexicons and phrases are matched on."""

    name: str

    def ru_key(self, word: str) -> str:
        """Key of a folded Russian word (a stem or a lemma)."""
        ...

    def en_key(self, word: str) -> str:
        """Key of a folded English word (a Porter2 stem)."""
        ...


class _Stemmer(Protocol):
    def stemWord(self, word: str) -> str: ...


def _snowball(language: str) -> _Stemmer:
    # snowballstemmer transparently uses PyStemmer's C implementation when installed.
    import snowballstemmer

    stemmer: _Stemmer = snowballstemmer.stemmer(language)
    if hasattr(stemmer, "maxCacheSize"):
        # PyStemmer keeps its own word cache (10,000 words), which the analyzers' caches
        # already cover: with the long tail of live vocabulary it overflows and purges all
        # the time, making a stem of an unseen word ~4x dearer (0.6 -> 2-6 us).
        stemmer.maxCacheSize = 0
    return stemmer


class SnowballMorphology:
    """Snowball stemmers for Russian and English: microseconds per word, no dictionary."""

    name = "snowball"

    def __init__(self) -> None:
        self._ru = _snowball("russian")
        self._en = _snowball("english")

    def ru_key(self, word: str) -> str:
        """Snowball stem of a Russian word."""
        return self._ru.stemWord(word)

    def en_key(self, word: str) -> str:
        """Porter2 stem of an English word."""
        return self._en.stemWord(word)


class PymorphyMorphology:
    """pymorphy3 lemmas for Russian (most probable parse), Porter2 stems for English."""

    name = "pymorphy"

    def __init__(self) -> None:
        import pymorphy3

        self._morph = pymorphy3.MorphAnalyzer()
        self._en = _snowball("english")

    def ru_key(self, word: str) -> str:
        """pymorphy3 normal form of a Russian word, folded."""
        lemma: str = self._morph.parse(word)[0].normal_form
        return lemma.replace("ё", "е")

    def en_key(self, word: str) -> str:
        """Porter2 stem of an English word."""
        return self._en.stemWord(word)


class PymorphyStemMorphology(PymorphyMorphology):
    """pymorphy3 lemma, then its Snowball stem: paradigms stay whole, derivations merge."""

    name = "pymorphy+stem"

    def __init__(self) -> None:
        super().__init__()
        self._ru_stem = _snowball("russian")

    def ru_key(self, word: str) -> str:
        """Snowball stem of the pymorphy3 lemma of a Russian word."""
        return self._ru_stem.stemWord(super().ru_key(word))


def make_morphology(name: MorphologyName = "snowball") -> Morphology:
    """Build a morphology backend by name.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "snowball":
        return SnowballMorphology()
    if name == "pymorphy":
        return PymorphyMorphology()
    if name == "pymorphy+stem":
        return PymorphyStemMorphology()
    raise ValueError(f"unknown morphology {name!r}")


# Latin → Cyrillic for Russian typed on a Latin keyboard ("ne rabotaet", "uzhasno").
# Longest sequences first; the analyzer only trusts a transliteration that lands on a
# known Russian word, so the inevitable ambiguity (e/э, y/ы/й) rarely matters.
# fmt: off
_TRANSLIT: Final[tuple[tuple[str, str], ...]] = (
    ("shch", "щ"), ("sch", "щ"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"),
    ("sh", "ш"), ("yu", "ю"), ("ya", "я"), ("yo", "е"), ("ju", "ю"), ("ja", "я"),
    ("iy", "ий"), ("yy", "ый"), ("ey", "ей"), ("oy", "ой"), ("ay", "ай"), ("uy", "уй"),
    ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"),
    ("i", "и"), ("j", "й"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"),
    ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"),
    ("c", "ц"), ("y", "ы"), ("w", "в"), ("x", "кс"), ("q", "к"), ("'", "ь"),
)
# fmt: on
_TRANSLIT_MAP: Final = dict(_TRANSLIT)
# Specified as one regex pass, `re.compile("|".join(map(re.escape, latin sequences)))`
# with each match replaced by its Cyrillic; done in two C passes. The alternation tries
# the sequences before the single letters at every position, and a single letter consumes
# one character just as a failed sequence match advances by one, so replacing the
# sequences first (same order, same positions) and then translating the letters left over
# gives the same string: the replacements are Cyrillic, which the letter table leaves be.
_TRANSLIT_SEQ_RE: Final = re.compile(
    "|".join(re.escape(lat) for lat, _ in _TRANSLIT if len(lat) > 1)
)
_TRANSLIT_LETTERS: Final = str.maketrans({lat: cyr for lat, cyr in _TRANSLIT if len(lat) == 1})


def _translit_seq(match: re.Match[str]) -> str:
    return _TRANSLIT_MAP[match.group(0)]


def transliterate(word: str) -> str:
    """Transliterate a folded Latin word into Cyrillic (a best guess, see `_TRANSLIT`)."""
    return _TRANSLIT_SEQ_RE.sub(_translit_seq, word).translate(_TRANSLIT_LETTERS)
