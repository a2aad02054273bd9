"""Unit and property tests of routing.sentiment (no I/O; fixtures written for these tests)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.sentiment import Analyzer, Sentiment, ServiceCue, analyze, default_analyzer

C = ServiceCue


def _neg(text: str, language: str = "other") -> bool:
    return analyze(text, language).label == "negative"


# ---------------------------------------------------------------- result shape


def test_result_is_frozen_and_typed() -> None:
    result = analyze("Всё отлично, спасибо!", "ru")
    assert isinstance(result, Sentiment)
    assert result.label == "positive"
    assert result.language == "ru"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 0.0  # type: ignore[misc]  # asserting that frozen really is frozen


def test_cues_name_lexicon_entries_not_customer_text() -> None:
    result = analyze("Иван Петров: ужасные тарифы, Иван недоволен", "ru")
    assert result.label == "negative"
    assert any(cue.startswith("neg:") for cue in result.cues)
    assert not any("иван" in cue.lower() or "петров" in cue.lower() for cue in result.cues)


# ---------------------------------------------------------------- polarity, both languages


@pytest.mark.parametrize(
    ("text", "language", "label"),
    [
        ("Ужасный сервис, отвратительная поддержка", "ru", "negative"),
        ("Спасибо большое, всё быстро решили!", "ru", "positive"),
        ("Подскажите, как поменять тариф", "ru", "neutral"),
        ("This is the worst service I have ever used", "en", "negative"),
        ("Great support, thanks a lot!", "en", "positive"),
        ("How do I change my plan", "en", "neutral"),
    ],
)
def test_polarity(text: str, language: str, label: str) -> None:
    assert analyze(text, language).label == label


def test_inflected_russian_forms_match() -> None:
    for text in ("ужасный сервис", "ужасного сервиса", "ужасными сервисами", "ужасно"):
        assert _neg(text, "ru"), text


# ---------------------------------------------------------------- negation


@pytest.mark.parametrize(
    "text",
    ["Интернет не работает", "Деньги так и не вернули", "ни разу не помогли", "нет связи"],
)
def test_russian_negated_expectation_is_negative(text: str) -> None:
    result = analyze(text, "ru")
    assert result.label == "negative"
    assert any(cue.startswith("not:") for cue in result.cues)


@pytest.mark.parametrize(
    "text", ["I am not happy", "It doesn't work", "My order never arrived", "no signal"]
)
def test_english_negation_is_negative(text: str) -> None:
    assert _neg(text, "en"), text


def test_negated_negative_is_not_negative() -> None:
    assert analyze("не плохо", "ru").score > 0
    assert analyze("not bad at all", "en").score > 0
    assert analyze("без проблем", "ru").score > 0


def test_russian_negation_binds_to_the_next_word_only() -> None:
    # "не" belongs to "помогли"; "ужасный" after the comma stays negative.
    result = analyze("не помогли, ужасный сервис", "ru")
    assert any(cue.startswith("neg:ужас") for cue in result.cues)
    assert result.label == "negative"


def test_negation_scope_ends_at_clause_punctuation() -> None:
    with_break = analyze("I don't know. Great service", "en")
    assert with_break.score > 0
    assert "pos:great" in with_break.cues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("No!!! Broken again", "en"),
        ("Did they refund me? No! Useless support", "en"),
        ("Помогли? Нет! Ужасно", "ru"),
        ("Вернули деньги? Нет!!! Плохо работаете", "ru"),
    ],
)
def test_negation_scope_ends_with_the_sentence(text: str, language: str) -> None:
    result = analyze(text, language)
    assert result.label == "negative", result.cues
    assert not any(cue.startswith("not:") for cue in result.cues), result.cues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Sorry, which form do I need for a transfer?", "en"),
        ("I miss the branch that used to be on Main Street, where is the nearest one?", "en"),
        ("Подскажите, сколько ждать курьера", "ru"),
        ("Какая у меня задолженность за май?", "ru"),
    ],
)
def test_one_weak_negative_word_alone_is_not_a_complaint(text: str, language: str) -> None:
    result = analyze(text, language)
    assert result.label != "negative", result.cues
    assert any(cue.startswith("neg:") for cue in result.cues)  # seen, and reported


@pytest.mark.parametrize(
    ("weak", "plain", "language"),
    [
        ("Sorry, the app crashed", "the app crashed", "en"),
        ("Старый роутер, интернет ужасный", "роутер, интернет ужасный", "ru"),
    ],
)
def test_weak_negative_words_add_to_other_negative_evidence(
    weak: str, plain: str, language: str
) -> None:
    assert analyze(weak, language).score < analyze(plain, language).score < 0


@pytest.mark.parametrize(
    ("weak", "plain"),
    [
        ("Okay, the router is broken", "the router is broken"),
        ("I want my money back, your app crashed", "my money back, your app crashed"),
    ],
)
def test_a_weak_positive_word_does_not_soften_a_complaint(weak: str, plain: str) -> None:
    assert analyze(weak, "en").score == analyze(plain, "en").score < 0


def test_weak_positive_words_add_to_other_praise() -> None:
    fine = analyze("The price is fine and the service great", "en").score
    assert fine > analyze("The price and the service great", "en").score > 0


@pytest.mark.parametrize(
    ("text", "language"), [("Sorry, this is hard and weird", "en"), ("Сложно и непонятно", "ru")]
)
def test_weak_negative_words_accumulate(text: str, language: str) -> None:
    assert _neg(text, language), text


@pytest.mark.parametrize(
    "text",
    [
        "No need to call back, it works now",
        "You don't have to reply to this message",
        "Don't get me wrong, the new tariff is fine",
        "I can't believe it is already my renewal date",
        "I can't get enough of the new app",
    ],
)
def test_fixed_negative_expressions_deny_no_expectation(text: str) -> None:
    result = analyze(text, "en")
    assert result.label != "negative", result.cues
    assert not any(cue.startswith("not:") for cue in result.cues), result.cues


def test_fixed_negative_expressions_leave_the_rest_of_the_text_alone() -> None:
    assert _neg("Don't get me wrong, your support is useless", "en")
    assert _neg("I can't believe you charged me twice", "en")
    assert _neg("I shouldn't have to call five times", "en")


@pytest.mark.parametrize(
    "text",
    [
        "It looks like my order is lost",
        "Waiting like 3 hours for a reply",
        "I don't like the new app",
    ],
)
def test_like_as_a_preposition_does_not_cancel_a_complaint(text: str) -> None:
    assert _neg(text, "en"), text


def test_like_as_the_verb_of_liking_is_praise() -> None:
    assert analyze("I like the new app", "en").label == "positive"
    assert analyze("I really like the new app", "en").label == "positive"
    assert analyze("I would like to change my plan", "en").label == "neutral"


@pytest.mark.parametrize(
    "text",
    [
        "Please help, my card was stolen",
        "I need help with my bill, I was charged twice",
        "I hope this gets fixed soon, the app keeps crashing",
    ],
)
def test_request_words_do_not_offset_a_complaint(text: str) -> None:
    result = analyze(text, "en")
    assert result.label == "negative", result.cues
    assert not any(cue.startswith("pos:") for cue in result.cues), result.cues


def test_request_words_are_not_praise_but_failures_of_help_are_failures() -> None:
    assert analyze("Please call me back", "en").label == "neutral"
    assert analyze("I hope the new router will be great", "en").label == "neutral"
    assert _neg("It didn't help at all", "en")


@pytest.mark.parametrize(
    "text",
    [
        "I called customer care yesterday about my contract",
        "Is this the customer support line for business accounts?",
        "What kind of card do I need to pay abroad?",
        "Please make sure the courier calls first",
    ],
)
def test_department_names_and_nouns_are_not_praise(text: str) -> None:
    result = analyze(text, "en")
    assert result.label == "neutral", result.cues
    assert not any(cue.startswith("pos:") for cue in result.cues), result.cues


def test_a_department_name_does_not_soften_a_complaint() -> None:
    with_name = analyze("Customer care hung up on me", "en")
    assert with_name.score == analyze("They hung up on me", "en").score < 0


def test_answers_and_acknowledgements_are_not_approval() -> None:
    assert (
        analyze("Yes, it is still broken", "en").score == analyze("It is still broken", "en").score
    )
    assert analyze("Ok, when will the technician come?", "en").label == "neutral"
    assert analyze("Yeah right, fixed", "en").label == "negative"  # sarcasm stays


def test_love_how_frames_the_rest_of_the_sentence() -> None:
    assert _neg("I love how my internet drops every hour", "en")
    assert _neg("Love it when the app crashes, great job", "en")
    assert analyze("I love how fast the delivery was", "en").label == "positive"
    assert analyze("I love this app", "en").label == "positive"


def test_negation_passes_over_modal_verbs() -> None:
    assert "not:дозвониться" in analyze("не могу дозвониться", "ru").cues


# ---------------------------------------------------------------- modifiers


def test_intensifiers_and_diminishers() -> None:
    plain = analyze("плохой сервис", "ru").score
    assert analyze("очень плохой сервис", "ru").score < plain
    assert analyze("немного плохой сервис", "ru").score > plain
    assert analyze("extremely bad", "en").score < analyze("bad", "en").score
    assert analyze("slightly bad", "en").score > analyze("bad", "en").score


def test_caps_and_exclamations_intensify() -> None:
    base = analyze("ужасно", "ru").score
    assert analyze("УЖАСНО", "ru").score < base
    assert "caps" in analyze("УЖАСНО", "ru").cues
    assert analyze("ужасно!!!", "ru").score < base


def test_question_runs_read_as_frustration() -> None:
    result = analyze("где мой заказ???", "ru")
    assert "question_run" in result.cues
    assert result.score < analyze("где мой заказ?", "ru").score


def test_contrast_weights_the_second_clause() -> None:
    assert _neg("Оператор вежливый, но проблему так и не решили", "ru")
    assert _neg("The staff were nice but the delivery was a disaster", "en")


def test_irrealis_blocks_wished_for_praise() -> None:
    assert analyze("it would be great if someone answered", "en").score <= 0
    assert analyze("было бы хорошо, если бы вы ответили", "ru").score <= 0


# ---------------------------------------------------------------- emoticons, emoji, profanity


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        (":(", True),
        ("😡", True),
        ("😡😡😡", True),
        ("опять(((", True),
        ("спасибо)))", False),
        (":)", False),
        ("👍", False),
    ],
)
def test_emoticons_and_emoji(text: str, negative: bool) -> None:
    assert _neg(text) is negative


def test_lone_paren_is_a_smile_but_brackets_are_not() -> None:
    assert analyze("спасибо)", "ru").score > analyze("спасибо", "ru").score
    assert "emoticon:)" not in analyze("тариф (новый) подключен", "ru").cues


def test_profanity() -> None:
    assert _neg("блин, опять всё сломалось", "ru")
    assert _neg("what the fuck is this service", "en")
    assert analyze("это охуенно", "ru").score > 0  # positive slang stays positive


def test_sarcasm_turns_praise_into_complaint() -> None:
    result = analyze("Ну спасибо, третий день без связи", "ru")
    assert result.label == "negative"
    assert "sarcasm:ну спасибо" in result.cues
    assert _neg("thanks for nothing, still no refund", "en")


# ---------------------------------------------------------------- service cues


@pytest.mark.parametrize(
    ("text", "language", "cue"),
    [
        ("Подам на вас в суд", "ru", C.LEGAL_THREAT),
        ("Напишу жалобу в Роспотребнадзор", "ru", C.LEGAL_THREAT),
        ("Обращусь в прокуратуру и в ЦБ", "ru", C.LEGAL_THREAT),
        ("My lawyer will contact you", "en", C.LEGAL_THREAT),
        ("I will sue you and report you to the BBB", "en", C.LEGAL_THREAT),
        ("Уйду к конкурентам", "ru", C.CHURN_THREAT),
        ("Расторгну договор завтра же", "ru", C.CHURN_THREAT),
        ("Закрою счёт в вашем банке", "ru", C.CHURN_THREAT),
        ("Please cancel my account", "en", C.CHURN_THREAT),
        ("I'm switching to another provider", "en", C.CHURN_THREAT),
        ("В который раз пишу вам", "ru", C.REPEAT_CONTACT),
        ("Третий раз пишу, никто не отвечает", "ru", C.REPEAT_CONTACT),
        ("Не могу до вас дозвониться", "ru", C.REPEAT_CONTACT),
        ("Тысячу раз звонила", "ru", C.REPEAT_CONTACT),
        ("Пишу уже 5 раз", "ru", C.REPEAT_CONTACT),
        ("Still waiting for my refund", "en", C.REPEAT_CONTACT),
        ("Nobody answers the phone", "en", C.REPEAT_CONTACT),
        ("This is the third time I call", "en", C.REPEAT_CONTACT),
        ("Соедините с оператором", "ru", C.HUMAN_REQUEST),
        ("Хочу поговорить с живым человеком", "ru", C.HUMAN_REQUEST),
        ("Let me talk to an agent", "en", C.HUMAN_REQUEST),
        ("I want a real person", "en", C.HUMAN_REQUEST),
        ("Напишите номер договора и паспортные данные", "ru", C.PERSONAL_DATA_REQUEST),
        ("мой телефон +7 (912) 345-67-89", "ru", C.PERSONAL_DATA_REQUEST),
        ("What is your card number and CVV?", "en", C.PERSONAL_DATA_REQUEST),
        ("email me at someone@example.com", "en", C.PERSONAL_DATA_REQUEST),
    ],
)
def test_service_cues(text: str, language: str, cue: ServiceCue) -> None:
    assert cue in analyze(text, language).service_cues


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Судя по всему, всё хорошо", "ru"),  # "судя" is not "суд"
        ("Спасибо за помощь", "ru"),
        ("thanks again, great job", "en"),  # "again" without a complaint
        ("The court of public opinion", "xx"),
    ],
)
def test_no_false_legal_or_repeat_cues(text: str, language: str) -> None:
    cues = analyze(text, language).service_cues
    assert C.REPEAT_CONTACT not in cues
    if language == "ru":
        assert C.LEGAL_THREAT not in cues


def test_weak_repeat_cue_needs_a_complaint() -> None:
    assert C.REPEAT_CONTACT in analyze("опять не работает интернет", "ru").service_cues
    assert C.REPEAT_CONTACT not in analyze("опять всё отлично", "ru").service_cues


def test_legal_and_churn_threats_are_negative() -> None:
    assert _neg("Подам в суд", "ru")
    assert _neg("Cancel my account", "en")


# ---------------------------------------------------------------- edge cases


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "12345", "...", "@#$%"])
def test_empty_and_textless(text: str) -> None:
    result = analyze(text)
    assert result.score == 0.0
    assert result.label == "neutral"
    assert result.cues == ()
    assert result.service_cues == frozenset()


def test_only_emoji() -> None:
    result = analyze("😡🤬")
    assert result.label == "negative"
    assert result.cues == ("emoji:😡", "emoji:🤬")


def test_transliterated_russian() -> None:
    result = analyze("internet opyat ne rabotaet, uzhasno", "ru")
    assert result.label == "negative"
    assert "not:работать" in result.cues


def test_mixed_russian_english() -> None:
    result = analyze("Сервис просто fail, wtf, хочу refund", "other")
    assert result.language == "ru"
    assert result.label == "negative"
    assert "neg:wtf" in result.cues


def test_language_other_detects_script() -> None:
    assert analyze("ужасно", "other").language == "ru"
    assert analyze("awful", "other").language == "en"
    assert analyze("😡", "other").language == "en"


@pytest.mark.parametrize(
    "text",
    [
        "Could you hold my parcel at the depot until Friday?",
        "What is the fee for a replacement card?",
        "Are there any fees for paying by card abroad?",
        "Will I be charged for delivery?",
        "Can you issue a new card to my home address",
        "Please block my card",
        "How do I cancel my order",
        "Sorry to bother you, how do I reset my password?",
        "Sorry for the late reply, here is my order number",
        "Hi, I missed a call from this number, who was it?",
    ],
)
def test_routine_service_requests_are_not_complaints(text: str) -> None:
    result = analyze(text, "en")
    assert result.label != "negative", result.cues
    assert not any(cue.startswith("neg:") for cue in result.cues), result.cues


@pytest.mark.parametrize(
    "text",
    [
        "I have been on hold for an hour",
        "You charged me twice for one order",
        "I was double charged",
        "Nobody told me about the hidden fees",
        "I have an issue with my bill",
        "Ridiculous fees again",
        "Sorry, but the app still crashes",
        "I missed the delivery because your courier came two hours late",
    ],
)
def test_complaint_senses_of_service_words_stay_negative(text: str) -> None:
    assert _neg(text, "en"), text


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("@sad_panda_help how do I change my delivery address?", "en"),
        ("Opening hours are at https://example.com/worst/faq", "en"),
        ("Details: www.example.com/hate", "en"),
        ("@plohoy_bank подскажите, как поменять тариф", "ru"),
    ],
)
def test_mentions_and_links_are_names_not_evaluations(text: str, language: str) -> None:
    result = analyze(text, language)
    assert result.label == "neutral", result.cues
    assert result.cues == ()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("@acme_support my router is broken again", "en"),
        ("@acme: it doesn't work, see https://example.com/ticket", "en"),
        ("@mts_support опять не работает интернет", "ru"),
    ],
)
def test_text_around_mentions_and_links_still_counts(text: str, language: str) -> None:
    assert _neg(text, language), text


def test_punctuation_after_a_mention_still_ends_the_negation() -> None:
    # "not" must not reach "happy" over the clause break that follows the handle.
    with_handle = analyze("not @acme, happy now", "en")
    assert with_handle.label == "positive", with_handle.cues


def test_long_text_keeps_at_most_a_bounded_number_of_cues() -> None:
    result = analyze("ужасно плохо " * 500, "ru")
    assert result.label == "negative"
    assert len(result.cues) <= 24


# ---------------------------------------------------------------- extensions


def test_user_lexicon_extension() -> None:
    base = Analyzer()
    custom = Analyzer(extra_lexicon={"ru": {"тормознутый": -3.0, "на высшем уровне": 3.0}})
    assert base.analyze("тормознутый сайт", "ru").score == 0.0
    assert custom.analyze("тормознутые сайты", "ru").label == "negative"
    assert custom.analyze("сервис на высшем уровне", "ru").label == "positive"


def test_user_cue_extension() -> None:
    custom = Analyzer(extra_cues={C.LEGAL_THREAT: {"ru": ["арбитраж"], "en": ["small court"]}})
    assert C.LEGAL_THREAT in custom.analyze("пойду в арбитраж", "ru").service_cues
    assert C.LEGAL_THREAT not in default_analyzer().analyze("пойду в арбитраж", "ru").service_cues


def test_thresholds_are_validated() -> None:
    with pytest.raises(ValueError, match="threshold"):
        Analyzer(negative_threshold=0.5, positive_threshold=0.1)


def test_default_analyzer_is_shared() -> None:
    assert default_analyzer() is default_analyzer()


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), language=st.sampled_from(["ru", "en", "other", "de"]))
def test_analyze_never_raises_and_stays_in_range(text: str, language: str) -> None:
    result = analyze(text, language)
    assert -1.0 <= result.score <= 1.0
    assert result.label in ("negative", "neutral", "positive")
    assert all(isinstance(cue, ServiceCue) for cue in result.service_cues)


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(
        st.sampled_from(
            [
                "не",
                "очень",
                "плохо",
                "хорошо",
                "но",
                "бы",
                "(",
                ")",
                "!!!",
                "???",
                ":(",
                "😡",
                "not",
                "very",
                "good",
                "bad",
                "but",
                "would",
                "суд",
                "again",
                ",",
                "так",
                "себе",
            ]
        ),
        max_size=40,
    )
)
def test_analyze_is_deterministic_over_cue_words(words: list[str]) -> None:
    text = " ".join(words)
    assert analyze(text, "ru") == analyze(text, "ru")
    assert -1.0 <= analyze(text, "en").score <= 1.0


def test_calm_problem_reports_stay_below_strong_emotion() -> None:
    # A list of failures is negative, but only emotion (or threats) should read as an
    # outburst: seniors are for angry customers, not for every "can't log in".
    calm = [
        ("Не могу войти в личный кабинет, не приходит код", "ru"),
        ("I can't log in, the password reset email never arrives", "en"),
        ("не работает интернет, не грузятся страницы, не приходят смс", "ru"),
    ]
    for text, lang in calm:
        s = analyze(text, lang)
        assert s.label == "negative", text
        assert s.score > -0.6, (text, s.score)
    angry = analyze("Ужасный сервис, опять не работает интернет!!! 😡", "ru")
    assert angry.score <= -0.75
