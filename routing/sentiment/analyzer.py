"""Lexicon- and rule-based sentiment analyzer for Russian and English contact texts."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from routing.sentiment import lexicon_common, lexicon_en, lexicon_ru
from routing.sentiment.cues import (
    CUE_PHRASES,
    CUE_VALENCE,
    EMAIL_RE,
    PERSONAL_DATA_RE,
    REPEAT_NUMBER_RE,
    ServiceCue,
)
from routing.sentiment.text import (
    CYRILLIC_RE,
    TOKEN_RE,
    Morphology,
    MorphologyName,
    chunk_tokens,
    fold,
    is_cyrillic,
    make_morphology,
    transliterate,
)

__all__ = ["Analyzer", "Label", "Language", "Sentiment"]

Label = Literal["negative", "neutral", "positive"]
Language = Literal["ru", "en", "other"]


@dataclass(frozen=True, slots=True)
class Sentiment:
    """The sentiment of one text.

    Attributes:
        score: Polarity in [-1, 1]; below the analyzer's negative threshold is negative.
        label: "negative", "neutral" or "positive".
        cues: Lexical cues that fired, as lexicon entries and rule names (never other
            customer text), e.g. ``("neg:ужасный", "not:работать", "emoji:😡")``.
        service_cues: Customer-service cues, reported apart from polarity.
        language: The language the text was analysed as ("ru" or "en").
    """

    score: float
    label: Label
    cues: tuple[str, ...]
    service_cues: frozenset[ServiceCue]
    language: Literal["ru", "en"]


# Token kinds of the per-token cache entries.
_PLAIN: Final = 0
_VAL: Final = 1
_NEG: Final = 2
_BOOST: Final = 3
_CONTRAST: Final = 4
_EMO: Final = 5
_EXCL: Final = 6
_QUEST: Final = 7
_OPEN: Final = 8
_CLOSE: Final = 9
_SKIP: Final = 10
_BREAK: Final = 11
_IRREALIS: Final = 12

# Bits of the service-cue mask; _WEAK_REPEAT turns into REPEAT_CONTACT only in a
# negative text.
_CUE_ORDER: Final = tuple(ServiceCue)
_CUE_BIT: Final = {cue: 1 << i for i, cue in enumerate(_CUE_ORDER)}
_WEAK_REPEAT: Final = 1 << len(_CUE_ORDER)
_REPEAT_BIT: Final = _CUE_BIT[ServiceCue.REPEAT_CONTACT]
_STRONG_MASK: Final = _WEAK_REPEAT - 1
_CUE_SETS: Final = tuple(
    frozenset(c for c in _CUE_ORDER if mask & _CUE_BIT[c]) for mask in range(_WEAK_REPEAT)
)
_CUE_SUMS: Final = tuple(
    sum(CUE_VALENCE[c] for c in _CUE_ORDER if mask & _CUE_BIT[c]) for mask in range(_WEAK_REPEAT)
)
_CUE_NAMES: Final = tuple(
    tuple(f"cue:{c.value}" for c in _CUE_ORDER if mask & _CUE_BIT[c])
    for mask in range(_WEAK_REPEAT)
)

# (kind, valence, valence when negated, key, cue label, ALL CAPS, service-cue bits,
# phrase-head bits: 1 starts an idiom, 2 starts a service-cue phrase)
_Info = tuple[int, float, float, str, str, bool, int, int]
_IdiomTail = tuple[tuple[str, ...], float, str, bool]
_CuePhrase = tuple[tuple[str, ...], int, int]  # all keys, index of the anchor, cue bits

_N_SCALAR: Final = -0.74  # VADER's negation factor: "not good" is weaker than "bad"
_BOOST_STEP: Final = 0.293  # VADER's booster increment
_CAPS: Final = 1.5
_EXCL_STEP: Final = 0.292
_ALPHA: Final = 15.0  # VADER's normalisation constant for the compound score
# Words rated within one step of neutral on the -4..+4 scale count only beside other
# evidence of their polarity, or once they add up to one step.
_WEAK: Final = -1.0
# Sum of negated expectations counted at most: about one and a half failures' worth, so
# problem reports stay below the "strong emotion" scores that send contacts to seniors.
_FAIL_CAP: Final = -2.4
# Tokens a negator reaches, not counting boosters and transparent words. Russian "не"
# binds to the next word; English negation spreads further ("don't like it at all").
_NEG_WINDOW_RU: Final = 1
_NEG_WINDOW_EN: Final = 3
_CUE_GAP: Final = 2  # other tokens allowed between the words of a service-cue phrase
_CACHE_LIMIT: Final = 200_000
_MAX_CUES: Final = 24
_DIGIT: Final = re.compile(r"\d")
# Cheap necessary conditions in front of the costly cue regexes, which have no literal
# prefix and so are tried at every position of every text with a digit in it (order
# numbers, amounts, dates: half of all contacts). A repeat cue needs "раз" or "time";
# a card or phone number needs at least 10 digits (NANP: 3 + 3 + 4).
_NOT_DIGITS: Final = re.compile(r"\D+")
_PERSONAL_DATA_MIN_DIGITS: Final = 10
_REPEAT_WORD: Final = re.compile(r"раз|time", re.IGNORECASE)
_ELONGATED: Final = re.compile(r"(\w)\1{2,}")

_EMPTY_INFO: Final[_Info] = (_PLAIN, 0.0, 0.0, "", "", False, 0, 0)
# What stands for an @-mention or a link: a name or an address is not an evaluation
# ("@BadBoy_Records", "t.co/sadXk2"), so its letters are never looked up. Transparent, so
# a negation passes over it.
_SKIP_INFO: Final[_Info] = (_SKIP, 0.0, 0.0, "", "", False, 0, 0)
_SKIPPED_CHUNK: Final[tuple[_Info, ...]] = (_SKIP_INFO,)
_HANDLE: Final = re.compile(r"@\w+")


def _has_email(text: str) -> bool:
    """`EMAIL_RE.search(text) is not None`, tried only where a match can start.

    EMAIL_RE starts with a lookbehind and then "@", so the regex engine would try every
    position of the text (tweets are full of "@handles"); a match starts at an "@" that
    is not the first character, and the lookbehind still sees the character before it.
    """
    at = text.find("@", 1)
    while at != -1:
        if EMAIL_RE.match(text, at) is not None:
            return True
        at = text.find("@", at + 1)
    return False


def _emoticon_info(token: str) -> _Info:
    low = token.lower()
    value = lexicon_common.EMOTICONS.get(low)
    if value is None:
        # An unlisted variant (":-))))", ":-[[") takes the polarity of its mouth.
        value = 2.0 if (")" in low or "d" in low or "]" in low) else -2.0 if "(" in low else 0.0
    if not value:
        return _EMPTY_INFO
    return (_EMO, value, value, "", f"emoticon:{low}", False, 0, 0)


class _LanguageLexicon:
    """One language's lexicon, compiled to morphology keys."""

    __slots__ = ("by_key", "by_surface")

    def __init__(self) -> None:
        # key -> (valence, valence when negated, cue label)
        self.by_key: dict[str, tuple[float, float, str]] = {}
        # English only: VADER is a list of surface forms.
        self.by_surface: dict[str, tuple[float, float, str]] = {}


class Analyzer:
    """Sentiment and customer-service cue analyzer for Russian and English.

    Built from the project's lexicons (and VADER's English word list when the
    `vaderSentiment` package is installed) plus optional user extensions, typically
    from the routing config. Instances are immutable after construction except for
    their internal token cache; `analyze` is safe to call from one thread at a time
    per instance, which is how stream workers use it.

    Args:
        extra_lexicon: Per language ("ru" / "en"), word or phrase -> valence on a
            -4..+4 scale. Single words match all their inflected forms; phrases of
            several words match consecutive tokens. Entries override built-in ones.
        extra_cues: Per service cue, per language, extra phrases (matched on
            inflected forms, in order, with up to two other words in between).
        morphology: "snowball" (stems, the default), "pymorphy" (lemmas) or
            "pymorphy+stem" (stems of lemmas).
        negative_threshold: Scores at or below this are labelled negative.
        positive_threshold: Scores at or above this are labelled positive.
        negative_weight: Multiplier of negative evidence: the negativity bias of
            SO-CAL (Taboada et al. 2011), and contacts that mix praise and complaint
            are complaints.
        bare_negation: Valence added for a negation that hit no sentiment word
            ("didn't come", "не пришли" with an unknown verb): negation itself leans
            negative.
        use_vader: Whether to load VADER's English lexicon.
    """

    def __init__(
        self,
        *,
        extra_lexicon: Mapping[str, Mapping[str, float]] | None = None,
        extra_cues: Mapping[ServiceCue | str, Mapping[str, Sequence[str]]] | None = None,
        morphology: MorphologyName | Morphology = "snowball",
        negative_threshold: float = -0.05,
        positive_threshold: float = 0.3,
        negative_weight: float = 1.5,
        bare_negation: float = -0.5,
        use_vader: bool = True,
    ) -> None:
        if negative_threshold > positive_threshold:
            raise ValueError("negative_threshold must not exceed positive_threshold")
        self._morph: Morphology = (
            make_morphology(morphology) if isinstance(morphology, str) else morphology
        )
        self.negative_threshold = negative_threshold
        self.positive_threshold = positive_threshold
        self._neg_weight = negative_weight
        self._bare_negation = bare_negation
        self._ru = _LanguageLexicon()
        self._en = _LanguageLexicon()
        self._idioms: dict[str, list[_IdiomTail]] = {}
        self._idiom_pairs: set[tuple[str, str]] = set()
        self._cue_phrases: dict[str, list[_CuePhrase]] = {}
        self._stop_keys = frozenset(
            self._key(fold(w)) for w in (*lexicon_ru.FUNCTION_WORDS, *lexicon_en.FUNCTION_WORDS)
        )
        self._cue_words: dict[str, int] = {}
        # Two caches per language: whitespace-separated chunk -> its token entries (the
        # hot path: one dict lookup per chunk, no regex), and token -> entry (shared by
        # chunks, so "плохо", "плохо!!!" and "плохо((" hold one entry for "плохо").
        self._chunks: dict[str, dict[str, tuple[_Info, ...]]] = {"ru": {}, "en": {}}
        self._tokens: dict[str, dict[str, _Info]] = {"ru": {}, "en": {}}
        self._build(use_vader)
        for language, entries in (extra_lexicon or {}).items():
            self._add_words(language, entries)
        for cue, per_language in (extra_cues or {}).items():
            bit = _CUE_BIT[ServiceCue(cue)]
            for phrases in per_language.values():
                self._add_cue_phrases(phrases, bit)

    @property
    def morphology(self) -> str:
        """Name of the morphology backend in use."""
        return self._morph.name

    # ---------------------------------------------------------------- construction

    def _key(self, folded: str) -> str:
        if is_cyrillic(folded):
            return self._morph.ru_key(folded)
        return self._morph.en_key(folded)

    def _phrase_keys(self, phrase: str) -> tuple[str, ...]:
        return tuple(self._key(fold(tok)) for tok in TOKEN_RE.findall(phrase))

    def _build(self, use_vader: bool) -> None:
        if use_vader:
            for word, value in lexicon_en.load_vader_lexicon().items():
                if word.isalpha() or "'" in word or "-" in word:
                    self._en.by_surface[word] = (value, value * _N_SCALAR, word)
        self._add_words("en", lexicon_en.WORDS)
        self._add_words("ru", lexicon_ru.WORDS)
        self._add_expectations(self._en, lexicon_en.EXPECTATIONS, surface=True)
        self._add_expectations(self._ru, lexicon_ru.EXPECTATIONS, surface=False)
        for lang_idioms in (lexicon_ru.IDIOMS, lexicon_en.IDIOMS):
            for phrase, value in lang_idioms.items():
                self._add_idiom(phrase, value, sarcastic=False)
        for lang_sarcasm in (lexicon_ru.SARCASM, lexicon_en.SARCASM):
            for phrase, value in lang_sarcasm.items():
                self._add_idiom(phrase, value, sarcastic=True)
        for cue, per_language in CUE_PHRASES.items():
            for phrases in per_language.values():
                self._add_cue_phrases(phrases, _CUE_BIT[cue])

    def _add_words(self, language: str, entries: Mapping[str, float]) -> None:
        lex = self._ru if language == "ru" else self._en
        for word, value in entries.items():
            folded = fold(word.strip())
            if not folded:
                continue
            if " " in folded or len(TOKEN_RE.findall(folded)) > 1:
                self._add_idiom(folded, float(value), sarcastic=False)
                continue
            entry = (float(value), float(value) * _N_SCALAR, folded)
            if language != "ru":
                self._en.by_surface[folded] = entry
            key = self._key(folded)
            # Keep the strongest entry when two words share a key; an explicit
            # extension (added last) always wins through the surface map for English.
            old = lex.by_key.get(key)
            if old is None or abs(entry[0]) >= abs(old[0]):
                lex.by_key[key] = entry

    def _add_expectations(
        self, lex: _LanguageLexicon, entries: Mapping[str, float], *, surface: bool
    ) -> None:
        for word, negated in entries.items():
            folded = fold(word)
            key = self._key(folded)
            for table, k in ((lex.by_key, key), (lex.by_surface, folded)):
                if table is lex.by_surface and not surface:
                    continue
                old = table.get(k)
                plain = old[0] if old is not None else 0.0
                table[k] = (plain, negated, old[2] if old is not None else folded)

    def _add_idiom(self, phrase: str, value: float, *, sarcastic: bool) -> None:
        keys = self._phrase_keys(phrase)
        if len(keys) < 2:
            return
        label = f"{'sarcasm' if sarcastic else 'idiom'}:{fold(phrase)}"
        tails = self._idioms.setdefault(keys[0], [])
        tails.append((keys[1:], value, label, sarcastic))
        tails.sort(key=lambda tail: -len(tail[0]))
        # The main loop only calls _match_idiom when the first two keys fit.
        self._idiom_pairs.add((keys[0], keys[1]))

    def _add_cue_phrases(self, phrases: Iterable[str], bit: int) -> None:
        for phrase in phrases:
            weak = phrase.startswith("~")
            keys = self._phrase_keys(phrase.lstrip("~"))
            mask = _WEAK_REPEAT if weak else bit
            if not keys:
                continue
            if len(keys) == 1:
                self._cue_words[keys[0]] = self._cue_words.get(keys[0], 0) | mask
                continue
            # Anchor each phrase on its least common word, so that "в", "не" or "to"
            # do not send every text into phrase matching.
            anchor = max(
                range(len(keys)), key=lambda j: (keys[j] not in self._stop_keys, len(keys[j]))
            )
            self._cue_phrases.setdefault(keys[anchor], []).append((keys, anchor, mask))

    # ---------------------------------------------------------------- token cache

    def _classify(self, token: str, language: str) -> _Info:
        first = token[0]
        if first in ":;=<" and len(token) > 1:
            return _emoticon_info(token)
        if first in "()":
            if len(token) == 1:
                return (_OPEN if first == "(" else _CLOSE, 0.0, 0.0, "", "", False, 0, 0)
            value = min(1.6 + 0.2 * len(token), 2.6)
            if first == "(":
                value = -value
            return (_EMO, value, value, "", f"emoticon:{first * 3}", False, 0, 0)
        if first in ".,;:":
            return (_BREAK, 0.0, 0.0, "", "", False, 0, 0)
        if first in "!?":
            if "?" in token:
                return (_QUEST, float(len(token)), 0.0, "", "", False, 0, 0)
            return (_EXCL, float(len(token)), 0.0, "", "", False, 0, 0)
        if len(token) == 1 and not first.isalpha():
            value = lexicon_common.EMOJI.get(token, 0.0)
            if not value:
                return _EMPTY_INFO
            return (_EMO, value, value, "", f"emoji:{token}", False, 0, 0)
        folded = fold(token)
        caps = len(token) > 2 and token.isupper()
        info = self._script_info(folded, caps)
        if info[0] == _PLAIN and _ELONGATED.search(folded) is not None:
            # "sooo baaad", "ужаааас": try the word with letter runs cut to two, then one.
            for short in (_ELONGATED.sub(r"\1\1", folded), _ELONGATED.sub(r"\1", folded)):
                alt = self._script_info(short, caps)
                if alt[0] != _PLAIN:
                    return alt
        if is_cyrillic(folded):
            return info
        if language == "ru" and info[0] == _PLAIN and not info[6] and not info[7]:
            # Russian typed in Latin letters: trust it only if it lands on a known word.
            cyr = transliterate(folded)
            alt = self._word_info(cyr, self._morph.ru_key(cyr), self._ru, caps, ru=True)
            if alt[0] != _PLAIN or alt[6] or alt[7]:
                return alt
        return info

    def _script_info(self, folded: str, caps: bool) -> _Info:
        if is_cyrillic(folded):
            return self._word_info(folded, self._morph.ru_key(folded), self._ru, caps, ru=True)
        return self._word_info(folded, self._morph.en_key(folded), self._en, caps, ru=False)

    def _word_info(
        self, folded: str, key: str, lex: _LanguageLexicon, caps: bool, *, ru: bool
    ) -> _Info:
        flags = self._cue_words.get(key, 0)
        head = (1 if key in self._idioms else 0) | (2 if key in self._cue_phrases else 0)
        negators = lexicon_ru.NEGATORS if ru else lexicon_en.NEGATORS
        if folded in negators or (not ru and folded.endswith("n't")):
            window = float(_NEG_WINDOW_RU if ru else _NEG_WINDOW_EN)
            return (_NEG, window, 0.0, key, "", caps, flags, head)
        if folded in (lexicon_ru.IRREALIS if ru else lexicon_en.IRREALIS):
            return (_IRREALIS, 0.0, 0.0, key, "", caps, flags, head)
        if folded in (lexicon_ru.TRANSPARENT if ru else lexicon_en.TRANSPARENT):
            return (_SKIP, 0.0, 0.0, key, "", caps, flags, head)
        boosters = lexicon_ru.BOOSTERS if ru else lexicon_en.BOOSTERS
        if folded in boosters:
            return (_BOOST, _BOOST_STEP, 0.0, key, "", caps, flags, head)
        diminishers = lexicon_ru.DIMINISHERS if ru else lexicon_en.DIMINISHERS
        if folded in diminishers:
            return (_BOOST, -_BOOST_STEP, 0.0, key, "", caps, flags, head)
        if folded in (lexicon_ru.CONTRAST if ru else lexicon_en.CONTRAST):
            return (_CONTRAST, 0.0, 0.0, key, "", caps, flags, head)
        entry = lex.by_surface.get(folded) if not ru else None
        if entry is None:
            entry = lex.by_key.get(key)
        if entry is not None:
            value, negated, word = entry
            prefix = "neg" if value < 0 else "pos" if value > 0 else "exp"
            return (_VAL, value, negated, key, f"{prefix}:{word}", caps, flags, head)
        if ru:
            if lexicon_ru.POSITIVE_PROFANITY_RE.search(folded):
                return (_VAL, 2.4, 2.4 * _N_SCALAR, key, "profanity:positive", caps, flags, head)
            if lexicon_ru.PROFANITY_RE.match(folded):
                return (_VAL, -2.4, -1.0, key, "profanity", caps, flags, head)
        return (_PLAIN, 0.0, 0.0, key, "", caps, flags, head)

    def _chunk(self, chunk: str, language: str) -> tuple[_Info, ...]:
        """Tokens of one whitespace-separated chunk, cached per language."""
        if "://" in chunk or chunk.startswith("www."):
            return self._remember(chunk, _SKIPPED_CHUNK, language)
        text = chunk
        if "@" in chunk:
            # The handle goes, punctuation after it stays ("@acme:" still ends a clause).
            text = _HANDLE.sub(" ", chunk)
            if not text.strip():
                return self._remember(chunk, _SKIPPED_CHUNK, language)
        tokens = self._tokens[language]
        infos: list[_Info] = []
        for token in chunk_tokens(chunk) if text is chunk else TOKEN_RE.findall(text):
            info = tokens.get(token)
            if info is None:
                info = self._classify(token, language)
                tokens[token] = info
            infos.append(info)
        return self._remember(chunk, tuple(infos), language)

    def _remember(self, chunk: str, result: tuple[_Info, ...], language: str) -> tuple[_Info, ...]:
        """Cache the token entries of a chunk and return them."""
        tokens = self._tokens[language]
        chunks = self._chunks[language]
        # Bound memory on adversarial input; the working set refills in a few hundred texts.
        # Each cache is dropped on its own: unique chunks (order numbers, links) fill the
        # chunk cache twice as fast, and the token entries (4x dearer to rebuild: stems,
        # lexicon lookups) need not go with it.
        if len(chunks) >= _CACHE_LIMIT:
            chunks.clear()
        if len(tokens) >= _CACHE_LIMIT:
            tokens.clear()
        chunks[chunk] = result
        return result

    # ---------------------------------------------------------------- phrases

    def _match_idiom(self, infos: list[_Info], start: int) -> _IdiomTail | None:
        n = len(infos)
        for tail in self._idioms[infos[start][3]]:
            rest = tail[0]
            if start + len(rest) >= n:
                continue
            j = start
            for k in rest:
                j += 1
                if infos[j][3] != k:
                    break
            else:
                return tail
        return None

    def _match_cues(self, infos: list[_Info], anchors: list[int]) -> int:
        mask = 0
        n = len(infos)
        for at in anchors:
            for keys, anchor, bit in self._cue_phrases[infos[at][3]]:
                if mask & bit:
                    continue
                pos = at
                ok = True
                for k in reversed(keys[:anchor]):  # words before the anchor, nearest first
                    for j in range(pos - 1, max(-1, pos - 2 - _CUE_GAP), -1):
                        if infos[j][3] == k:
                            pos = j
                            break
                    else:
                        ok = False
                        break
                if not ok:
                    continue
                pos = at
                for k in keys[anchor + 1 :]:
                    for j in range(pos + 1, min(n, pos + 2 + _CUE_GAP)):
                        if infos[j][3] == k:
                            pos = j
                            break
                    else:
                        ok = False
                        break
                if ok:
                    mask |= bit
        return mask

    # ---------------------------------------------------------------- analysis

    def analyze(self, text: str, language: str = "other") -> Sentiment:
        """Score one text.

        Args:
            text: The customer's text, any length.
            language: "ru", "en" or "other" (detected from the script). Either way
                Cyrillic words use the Russian lexicon and Latin words the English
                one; "ru" also tries Latin words as transliterated Russian.

        Returns:
            The score, label, lexical cues and service cues.
        """
        if language != "ru" and language != "en":
            language = "ru" if CYRILLIC_RE.search(text) else "en"
        lang: Literal["ru", "en"] = "ru" if language == "ru" else "en"
        get = self._chunks[lang].get
        chunk_infos = self._chunk
        infos = [
            info for chunk in text.split() for info in (get(chunk) or chunk_infos(chunk, lang))
        ]

        n = len(infos)
        idiom_pairs = self._idiom_pairs
        pos = 0.0
        neg = 0.0
        fail = 0.0
        weight = 1.0
        scope = 0
        boost = 0.0
        boost_left = 0
        bare = 0
        weak = 0.0
        weak_pos = 0.0
        excl = 0.0
        quest = 0.0
        paren = 0
        sarcasm = False
        irrealis = False
        svc = 0
        skip = 0
        heads: list[int] | None = None
        cues: list[str] = []
        # Kinds are compared as int literals: this loop runs once per token of every
        # contact, and literals avoid a global lookup per comparison (see _PLAIN...).
        for i, (kind, val, nval, _key, cue, caps, flags, head) in enumerate(infos):
            if skip:
                skip -= 1
                continue
            if head:
                if head & 2:
                    if heads is None:
                        heads = []
                    heads.append(i)
                if head & 1 and i + 1 < n and (_key, infos[i + 1][3]) in idiom_pairs:
                    tail = self._match_idiom(infos, i)
                    if tail is not None:
                        skip = len(tail[0])
                        for j in range(i, i + 1 + skip):
                            svc |= infos[j][6]
                            if j != i and infos[j][7] & 2:
                                # A cue phrase may start inside the idiom ("до сих пор").
                                if heads is None:
                                    heads = []
                                heads.append(j)
                        scope = 0
                        if tail[3]:
                            sarcasm = True
                        if tail[1]:
                            v = tail[1] * weight
                            if v < 0:
                                neg += v
                            else:
                                pos += v
                        cues.append(tail[2])
                        continue
            if flags:
                svc |= flags
            if kind == 0:  # _PLAIN
                if scope:
                    scope -= 1
                    if not scope:
                        bare += 1
                if boost_left:
                    boost_left -= 1
                continue
            if kind == 1:  # _VAL
                if scope:
                    v = nval
                    scope = 0
                    cue = "not:" + cue[4:]
                    if not val:
                        # A negated expectation ("не работает", "never arrived") reports a
                        # problem, not an emotion: collected apart and capped, so a calm
                        # list of failures reads as negative but not as an outburst.
                        fail += v * weight
                        cues.append(cue)
                        continue
                else:
                    v = val
                    if v and -1.0 < v < 1.0 and not boost_left and not caps:  # |v| < -_WEAK
                        # Within one step of neutral on the -4..4 scale ("sorry", "miss",
                        # "okay", "want"): set apart, see `weak` below.
                        if v < 0.0:
                            weak += v * weight
                        elif irrealis:
                            continue
                        else:
                            weak_pos += v * weight
                        cues.append(cue)
                        continue
                if not v:
                    continue
                if boost_left:
                    v *= 1.0 + boost
                    boost_left = 0
                if caps:
                    v *= _CAPS
                    cues.append("caps")
                v *= weight
                if v < 0:
                    neg += v
                elif irrealis:
                    # "It would be great if someone answered": wished-for praise is not praise.
                    continue
                else:
                    pos += v
                cues.append(cue)
            elif kind == 2:  # _NEG
                scope = int(val)
            elif kind == 10:  # _SKIP
                pass
            elif kind == 11:  # _BREAK: a clause ends, and with it negation and boosting
                if scope:
                    scope = 0
                    bare += 1
                boost_left = 0
                irrealis = False
            elif kind == 12:  # _IRREALIS: "would", "if", "бы", "если" until the clause ends
                irrealis = True
            elif kind == 3:  # _BOOST
                boost = val
                boost_left = 2
            elif kind == 5:  # _EMO
                if val < 0:
                    neg += val
                else:
                    pos += val
                cues.append(cue)
            elif kind == 4:  # _CONTRAST
                pos *= 0.5
                neg *= 0.5
                weak *= 0.5
                weak_pos *= 0.5
                weight = 1.5
                irrealis = False
                if scope:
                    scope = 0
                    bare += 1
            elif kind == 6 or kind == 7:  # _EXCL, _QUEST: the sentence ends, and negation
                # with it: "No!!! It is broken" must not read as "not broken".
                if scope:
                    scope = 0
                    bare += 1
                if kind == 6:
                    excl += val
                elif val > quest:
                    quest = val
            elif kind == 8:  # _OPEN
                paren += 1
            elif paren:  # _CLOSE of a bracket
                paren -= 1
            else:  # a lone ")" is the Russian smile
                pos += 1.2
                cues.append("emoticon:)")
        if scope:
            bare += 1

        if heads is not None:
            svc |= self._match_cues(infos, heads)
        if "@" in text and _has_email(text):
            svc |= _CUE_BIT[ServiceCue.PERSONAL_DATA_REQUEST]
        if _DIGIT.search(text) is not None:
            if _REPEAT_WORD.search(text) is not None and REPEAT_NUMBER_RE.search(text) is not None:
                svc |= _REPEAT_BIT
            if (
                len(_NOT_DIGITS.sub("", text)) >= _PERSONAL_DATA_MIN_DIGITS
                and PERSONAL_DATA_RE.search(text) is not None
            ):
                svc |= _CUE_BIT[ServiceCue.PERSONAL_DATA_REQUEST]

        if sarcasm and pos > 0 and neg < 0:
            # "Ну спасибо, третий день без связи": the praise is the complaint.
            neg -= pos * 0.5
            pos = 0.0
            cues.append("sarcasm")
        strong = svc & _STRONG_MASK
        # Weak words count once they add up to one scale step, or beside other evidence of
        # their polarity: "sorry, which form do I need?" is a request, "sorry, the app
        # crashed again" a complaint; "okay" does not soften "okay, the router is broken".
        if weak and (
            weak <= _WEAK
            or neg
            or fail
            or bare
            or paren > 0
            or quest >= 2.0
            or _CUE_SUMS[strong] < 0
        ):
            neg += weak
        if weak_pos and (pos or weak_pos >= -_WEAK):
            pos += weak_pos
        total = pos + neg * self._neg_weight + max(fail, _FAIL_CAP)
        if bare:
            total += bare * self._bare_negation
            cues.append("negation")
        if paren > 0:
            # Unclosed "(" is the Russian frown: "опять не работает("
            total -= 1.2 * min(paren, 3)
            cues.append("emoticon:(")
        if strong:
            total += _CUE_SUMS[strong]
            cues.extend(_CUE_NAMES[strong])
        if excl and total:
            step = min(excl, 4.0) * _EXCL_STEP
            total += step if total > 0 else -step
            cues.append("exclamation")
        if quest >= 2.0:
            # "Где мой заказ???": repeated question marks in a contact are frustration.
            total -= 0.3 * min(quest, 4.0)
            cues.append("question_run")

        score = total / math.sqrt(total * total + _ALPHA) if total else 0.0
        if score <= self.negative_threshold:
            label: Label = "negative"
            if svc & _WEAK_REPEAT:
                svc |= _REPEAT_BIT
        elif score >= self.positive_threshold:
            label = "positive"
        else:
            label = "neutral"
        return Sentiment(
            score=score,
            label=label,
            cues=tuple(cues[:_MAX_CUES]),
            service_cues=_CUE_SETS[svc & _STRONG_MASK],
            language=lang,
        )
