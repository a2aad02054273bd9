"""Unit tests of routing.intents (no I/O; phrases written for these tests)."""

from __future__ import annotations

import pytest

from routing.intents import DEFAULT_INTENTS, IntentCatalogue, IntentMatch, default_catalogue


def _top(text: str, language: str = "other") -> str | None:
    matches = default_catalogue().match(text, language)
    return matches[0].intent if matches else None


def test_default_catalogue_covers_the_required_intents() -> None:
    assert set(DEFAULT_INTENTS) == {
        "order_status",
        "cancel_order",
        "reschedule_delivery",
        "return_refund",
        "payment_problem",
        "login_password",
        "loyalty_bonuses",
        "wrong_price_tag",
        "delivery_complaint",
        "talk_to_human",
    }
    for intent in default_catalogue().intents:
        assert intent.phrases["ru"] and intent.phrases["en"], intent.id


@pytest.mark.parametrize(
    "text",
    [
        "Хочу отменить заказ",
        "Отмените, пожалуйста, мой заказ",
        "Как оформить отмену заказа?",
        "заказ хочу отменить",
        "I want to cancel my order",
        "Please cancel the order",
    ],
)
def test_inflected_forms_match_cancel_order(text: str) -> None:
    assert _top(text) == "cancel_order"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Где мой заказ? Жду уже неделю", "order_status"),
        ("where is my package", "order_status"),
        ("Можно перенести доставку на пятницу?", "reschedule_delivery"),
        ("can you reschedule my delivery", "reschedule_delivery"),
        ("Верните деньги за бракованный товар", "return_refund"),
        ("I want a refund", "return_refund"),
        ("Не проходит оплата картой", "payment_problem"),
        ("I was charged twice", "payment_problem"),
        ("Забыла пароль от личного кабинета", "login_password"),
        ("I forgot my password", "login_password"),
        ("Не начислили бонусы за покупку", "loyalty_bonuses"),
        ("my loyalty points are missing", "loyalty_bonuses"),
        ("Ценник на полке не совпадает с ценой на кассе", "wrong_price_tag"),
        ("the price tag on the shelf was wrong", "wrong_price_tag"),
        ("Курьер опоздал на два часа", "delivery_complaint"),
        ("the courier was late again", "delivery_complaint"),
        ("Позовите оператора!", "talk_to_human"),
        ("let me speak to an agent", "talk_to_human"),
    ],
)
def test_default_intents(text: str, intent: str) -> None:
    assert intent in [m.intent for m in default_catalogue().match(text)]


def test_no_intent_in_small_talk() -> None:
    assert default_catalogue().match("Привет! Хорошего дня") == ()
    assert default_catalogue().match("") == ()


def test_words_too_far_apart_do_not_match() -> None:
    text = "отменить встречу с другом, потом написать про совсем другой заказ"
    assert "cancel_order" not in [m.intent for m in default_catalogue().match(text)]


def test_matches_are_ordered_best_first_and_unique() -> None:
    matches = default_catalogue().match("Курьер опоздал, хочу отменить заказ и вернуть деньги")
    intents = [m.intent for m in matches]
    assert {"delivery_complaint", "cancel_order", "return_refund"} <= set(intents)
    assert len(intents) == len(set(intents))
    scores = [m.score for m in matches]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)


def test_tighter_and_longer_phrases_score_higher() -> None:
    catalogue = IntentCatalogue({"a": {"ru": ["отменить заказ"]}, "b": {"ru": ["заказ"]}})
    matches = catalogue.match("отменить заказ")
    assert [m.intent for m in matches] == ["a", "b"]
    loose = catalogue.match("отменить мой старый заказ")[0]
    assert loose.intent == "a"
    assert loose.score < matches[0].score


def test_custom_catalogue_from_config_mapping() -> None:
    catalogue = IntentCatalogue({"sim_card": {"ru": ["заменить сим-карту"], "en": ["replace sim"]}})
    assert catalogue.match("Нужно заменить симку? Нет, заменить сим-карту", "ru") == (
        IntentMatch(
            intent="sim_card",
            score=catalogue.match("заменить сим-карту")[0].score,
            phrase="заменить сим-карту",
        ),
    )
    assert catalogue.match("please replace my SIM", "en")[0].intent == "sim_card"


def test_phrase_without_words_is_rejected() -> None:
    with pytest.raises(ValueError, match="no words"):
        IntentCatalogue({"broken": {"ru": ["!!!"]}})


def test_default_catalogue_is_shared() -> None:
    assert default_catalogue() is default_catalogue()
