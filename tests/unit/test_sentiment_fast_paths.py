"""The analyzer's cheap gates in front of the cue regexes never hide a match."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.sentiment import default_analyzer
from routing.sentiment.analyzer import (
    _NOT_DIGITS,
    _PERSONAL_DATA_MIN_DIGITS,
    _REPEAT_WORD,
    _has_email,
)
from routing.sentiment.cues import EMAIL_RE, PERSONAL_DATA_RE, REPEAT_NUMBER_RE, ServiceCue
from routing.sentiment.text import _TRANSLIT, TOKEN_RE, chunk_tokens, transliterate

# Digits, separators and the words of the repeat cue in odd cases (incl. characters that
# IGNORECASE folds specially: dotless i, Kelvin sign), so both regexes match often.
_PIECES = [
    *"0123456789", " ", "-", "(", ")", "+", "\n", "й", "th", "rd",
    "раз", "РАЗ", "Раз", "time", "TIME", "tıme", "TİME", "times", "x", "8", "+7", "1",
    "٣", "заказ", "card",
]  # fmt: skip
texts = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
    st.text(max_size=80),
)


@settings(max_examples=1000, deadline=None)
@given(texts)
def test_gates_are_necessary_conditions(text: str) -> None:
    if REPEAT_NUMBER_RE.search(text) is not None:
        assert _REPEAT_WORD.search(text) is not None
    if PERSONAL_DATA_RE.search(text) is not None:
        assert len(_NOT_DIGITS.sub("", text)) >= _PERSONAL_DATA_MIN_DIGITS


def test_cues_still_fire() -> None:
    analyzer = default_analyzer()
    repeat = analyzer.analyze("пишу уже 3-й раз, ужасно", "ru").service_cues
    assert ServiceCue.REPEAT_CONTACT in repeat
    card = analyzer.analyze("my card is 4111 1111 1111 1111", "en").service_cues
    assert ServiceCue.PERSONAL_DATA_REQUEST in card
    phone = analyzer.analyze("call me at 8 (916) 123-45-67", "en").service_cues
    assert ServiceCue.PERSONAL_DATA_REQUEST in phone
    nanp = analyzer.analyze("call me at (212) 555 1234", "en").service_cues
    assert ServiceCue.PERSONAL_DATA_REQUEST in nanp


def test_stemmers_skip_pystemmers_own_cache_and_stem_the_same() -> None:
    import snowballstemmer

    from routing.sentiment.text import _snowball

    for language, words in (
        ("russian", ["перенесите", "доставку", "ужаснейший", "заказа"]),
        ("english", ["cancellations", "delivered", "charging", "refunds"]),
    ):
        ours = _snowball(language)
        reference = snowballstemmer.stemmer(language)
        assert getattr(ours, "maxCacheSize", 0) == 0
        assert [ours.stemWord(w) for w in words] == [reference.stemWord(w) for w in words]


def test_results_do_not_depend_on_cache_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.sentiment.analyzer as analyzer_module
    from routing.sentiment import Analyzer

    texts = [
        f"Заказ {i} опять не приехал, ужасно!!! :( order #{i} where is it? 😡 sooo bad"
        for i in range(60)
    ] + ["Спасибо, всё отлично :)", "ne rabotaet internet", "I can't log in, not good"]
    reference = [default_analyzer().analyze(t, lang) for t in texts for lang in ("ru", "en")]
    monkeypatch.setattr(analyzer_module, "_CACHE_LIMIT", 7)  # overflow all the time
    small = Analyzer()
    assert [small.analyze(t, lang) for t in texts for lang in ("ru", "en")] == reference
    assert all(len(c) <= 7 for c in (*small._chunks.values(), *small._tokens.values()))


# transliterate's specification: one alternation of the Latin sequences, in table order.
_TRANSLIT_RE = re.compile("|".join(re.escape(lat) for lat, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=20),
        st.lists(st.sampled_from([lat for lat, _ in _TRANSLIT] + ["ё", "1", "-"]), max_size=12).map(
            "".join
        ),
    )
)
def test_transliterate_equals_one_regex_pass(word: str) -> None:
    expected = _TRANSLIT_RE.sub(lambda m: _TRANSLIT_MAP[m.group(0)], word)
    assert transliterate(word) == expected


_email_parts = st.sampled_from(
    ["@", "a", "b.", ".ru", ".c", "-", "+", "_", " ", "x@y.com", "é", "1", "\n"]
)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_email_parts, max_size=16).map("".join)))
def test_email_check_equals_the_regex_search(text: str) -> None:
    assert _has_email(text) == (EMAIL_RE.search(text) is not None)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=20))
def test_shared_chunk_tokens_equal_the_tokenizer(chunks: list[str]) -> None:
    import routing.sentiment.text as text_module

    for chunk in chunks + chunks:  # the second pass reads the memo
        assert chunk_tokens(chunk) == tuple(TOKEN_RE.findall(chunk))
    assert len(text_module._CHUNK_TOKENS) <= text_module._CHUNK_TOKENS_LIMIT


def test_analysis_does_not_depend_on_the_shared_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.sentiment.text as text_module
    from routing.intents import DEFAULT_INTENTS, IntentCatalogue, default_catalogue
    from routing.sentiment import Analyzer

    texts = [
        f"где мой заказ {i}? хочу отменить, @shop ужасно!!! cancel my order {i}" for i in range(40)
    ]
    reference = [
        (default_analyzer().analyze(t, "ru"), default_catalogue().match(t, "ru")) for t in texts
    ]
    monkeypatch.setattr(text_module, "_CHUNK_TOKENS_LIMIT", 3)  # overflow all the time
    text_module._CHUNK_TOKENS.clear()
    analyzer, catalogue = Analyzer(), IntentCatalogue(DEFAULT_INTENTS)
    assert [(analyzer.analyze(t, "ru"), catalogue.match(t, "ru")) for t in texts] == reference
