"""Intent matcher properties (hypothesis): the indexed fast path equals the plain matcher.

`IntentCatalogue.match` indexes each phrase under one rare key, reads text through a
per-chunk key cache and skips phrases whose keys do not all occur. `_reference_match`
below is the straightforward algorithm it replaced (every phrase under every key, one
regex pass over the whole text); both must give identical results on any text.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.intents import DEFAULT_INTENTS, IntentCatalogue, IntentMatch, default_catalogue

_MAX_GAP = 2


def _reference_match(catalogue: IntentCatalogue, text: str) -> tuple[IntentMatch, ...]:
    by_key: dict[str, list[tuple[str, str, tuple[str, ...], int]]] = {}
    for order, intent in enumerate(catalogue.intents):
        for phrases in intent.phrases.values():
            for phrase_text in phrases:
                keys = tuple(dict.fromkeys(catalogue._content_keys(phrase_text)))
                phrase = (intent.id, phrase_text, keys, order)
                for key in keys:
                    by_key.setdefault(key, []).append(phrase)
    keys = catalogue._content_keys(text)
    positions: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        if key in by_key:
            positions.setdefault(key, []).append(index)
    best: dict[str, tuple[float, int, str]] = {}
    seen: set[tuple[str, str, tuple[str, ...], int]] = set()
    for key in positions:
        for phrase in by_key[key]:
            if phrase in seen:
                continue
            seen.add(phrase)
            width = _reference_window(phrase[2], positions)
            if width is None:
                continue
            k = len(phrase[2])
            slack = (width - k) / (_MAX_GAP * k + 1)
            score = (k - slack) / (k + 1)
            old = best.get(phrase[0])
            if old is None or score > old[0]:
                best[phrase[0]] = (score, phrase[3], phrase[1])
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[1][1]))
    return tuple(
        IntentMatch(intent=intent, score=round(score, 4), phrase=phrase_text)
        for intent, (score, _, phrase_text) in ranked
    )


def _reference_window(keys: tuple[str, ...], positions: Mapping[str, list[int]]) -> int | None:
    if any(key not in positions for key in keys):
        return None
    if len(keys) == 1:
        return 1
    limit = len(keys) + _MAX_GAP * (len(keys) - 1)
    best: int | None = None
    for start in positions[keys[0]]:
        spots = [start]
        for key in keys[1:]:
            spots.append(min(positions[key], key=lambda p: abs(p - start)))
        width = max(spots) - min(spots) + 1
        if width <= limit and (best is None or width < best):
            best = width
    return best


# Words of the catalogue's phrases (so texts are full of near and partial matches),
# inflected variants, function words, fillers, punctuation and emoji.
_PHRASE_WORDS = sorted(
    {
        word
        for per_lang in DEFAULT_INTENTS.values()
        for phrases in per_lang.values()
        for phrase in phrases
        for word in phrase.split()
    }
)
_EXTRA = [
    "заказа", "заказы", "отмените", "доставку", "денег", "оператора", "orders", "cancelled",
    "не", "мой", "и", "the", "my", "please", "пожалуйста", "очень", "ещё", "уже", "опять",
    "12345", "!!!", "?", ",", ".", "(", ")))", "😡", "🙏", "—", "x", "а", "@u1",
]  # fmt: skip
_SEPARATORS = [" ", "  ", "\n", "\t", ", ", ",", "!", "? ", " - ", "\u00a0"]

words = st.sampled_from(_PHRASE_WORDS + _EXTRA)
texts = st.lists(st.tuples(words, st.sampled_from(_SEPARATORS)), max_size=40).map(
    lambda parts: "".join(w + sep for w, sep in parts)
)


@settings(max_examples=600, deadline=None)
@given(texts)
def test_fast_matcher_equals_reference_on_catalogue_words(text: str) -> None:
    catalogue = default_catalogue()
    assert catalogue.match(text) == _reference_match(catalogue, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fast_matcher_equals_reference_on_any_text(text: str) -> None:
    catalogue = default_catalogue()
    assert catalogue.match(text) == _reference_match(catalogue, text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.sampled_from([" ", ", "])), max_size=30
    )
)
def test_fast_matcher_equals_reference_with_overlapping_phrases(
    parts: list[tuple[str, str]],
) -> None:
    # Short, overlapping phrases sharing words, in one intent and across intents: ties of
    # equal score within an intent must name the same phrase as the plain matcher does.
    catalogue = IntentCatalogue(
        {
            "x": {"en": ["alpha beta", "beta gamma", "gamma", "alpha delta gamma"]},
            "y": {"en": ["delta", "beta alpha", "delta gamma beta alpha"]},
            "z": {"ru": ["гамма"], "en": ["gamma delta"]},
        }
    )
    names = {"a": "alpha", "b": "beta", "c": "gamma", "d": "delta"}
    text = "".join(names[w] + sep for w, sep in parts)
    assert catalogue.match(text) == _reference_match(catalogue, text)
