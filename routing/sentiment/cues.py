"""Customer-service cues (legal and churn threats, repeat contacts, ...) and their phrases."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final

__all__ = [
    "CUE_PHRASES",
    "CUE_VALENCE",
    "EMAIL_RE",
    "PERSONAL_DATA_RE",
    "REPEAT_NUMBER_RE",
    "ServiceCue",
]


class ServiceCue(StrEnum):
    """A cue that routing treats differently from plain negativity."""

    LEGAL_THREAT = "legal_threat"
    CHURN_THREAT = "churn_threat"
    REPEAT_CONTACT = "repeat_contact"
    HUMAN_REQUEST = "human_request"
    PERSONAL_DATA_REQUEST = "personal_data_request"


# Phrases are matched on morphology keys, in order, with up to two other tokens between
# consecutive words ("уйду, наверное, к конкурентам"). A phrase written with a leading
# "~" is weak: it only counts when the text is negative overall ("опять" in a complaint
# is a repeat contact, in "thanks again" it is not).
# fmt: off
CUE_PHRASES: Final[dict[ServiceCue, dict[str, tuple[str, ...]]]] = {
    ServiceCue.LEGAL_THREAT: {
        "ru": (
            "в суд", "через суд", "до суда", "засужу", "судебный", "иск", "исковое",
            "прокуратура", "прокурор", "роспотребнадзор", "ркн", "роскомнадзор",
            "фас", "антимонопольный", "цб", "центробанк", "банк россии", "омбудсмен",
            "финансовый уполномоченный", "юрист", "адвокат", "досудебный",
            "претензия", "защита прав потребителей", "зозпп", "права потребителя",
            "жалоба в", "пожалуюсь в", "заявление в полицию", "в полицию",
            "ответите по закону", "привлечь к ответственности",
        ),
        "en": (
            "lawyer", "attorney", "sue", "suing", "lawsuit", "legal action", "court",
            "small claims", "regulator", "ombudsman", "bbb", "better business bureau",
            "fcc", "ftc", "cfpb", "ofcom", "trading standards", "attorney general",
            "class action", "report you to", "file a complaint with", "consumer protection",
            "legal team",
        ),
    },
    ServiceCue.CHURN_THREAT: {
        "ru": (
            "к конкурентам", "уйду к", "уйти к", "перейду к", "перейду на", "перейти к",
            "перейти в другой", "другой оператор", "другой банк", "другой провайдер",
            "сменю оператора", "сменить оператора", "сменю банк", "сменить банк",
            "сменю провайдера", "расторгнуть договор", "расторгну договор",
            "расторжение договора", "закрыть счет", "закрою счет", "закрыть карту",
            "закрою карту", "закрыть вклад", "откажусь от услуг", "отказаться от услуг",
            "больше не буду пользоваться", "ноги моей не будет", "больше ни ногой",
            "удалю приложение", "отключусь", "уйду от вас", "переходить к",
        ),
        "en": (
            "cancel my account", "cancel account", "cancel subscription", "cancel my service",
            "close my account", "close account", "switching to", "switch to",
            "switch providers", "leave for", "take my business elsewhere",
            "never use again", "never buy again", "never shop again", "never order again",
            "done with you", "port my number", "terminate contract", "terminate my contract",
            "moving to", "unsubscribe", "leaving you",
        ),
    },
    ServiceCue.REPEAT_CONTACT: {
        "ru": (
            "в который раз", "который раз", "очередной раз", "второй раз", "третий раз",
            "четвертый раз", "пятый раз", "десятый раз", "сотый раз", "тысячу раз",
            "сто раз", "много раз", "несколько раз", "каждый раз", "повторно",
            "снова пишу", "опять пишу", "снова звоню", "опять звоню", "пишу уже",
            "звоню уже", "уже неделю", "уже месяц", "уже второй", "уже третий",
            "до сих пор", "все еще", "не дозвониться", "не могу дозвониться",
            "никто не отвечает", "никто не перезвонил", "никто не ответил",
            "сколько можно", "сколько раз", "~опять", "~снова", "~как всегда",
        ),
        "en": (
            "still waiting", "still not", "still no", "still haven't", "still hasn't",
            "nobody answers", "no one answers", "nobody answered", "no one answered",
            "no response", "no reply", "third time", "second time", "fourth time",
            "multiple times", "several times", "many times", "how many times",
            "every time", "times now", "keep calling", "kept calling", "called twice",
            "called again", "been waiting", "yet again", "for weeks", "for days",
            "repeatedly", "~again", "~as usual",
        ),
    },
    ServiceCue.HUMAN_REQUEST: {
        "ru": (
            "живой человек", "живой оператор", "живым человеком", "с оператором",
            "соедините оператор", "соединить с оператором", "позовите оператора",
            "переключите на оператора", "переключить на оператора", "оператора пожалуйста",
            "позвать оператора", "позовите менеджера", "позвать менеджера",
            "поговорить с человеком", "поговорить с менеджером", "с человеком",
            "не бот", "не робот", "хватит бот", "позовите специалиста",
            "соедините со специалистом", "позовите руководителя", "позвать старшего",
        ),
        "en": (
            "real person", "real human", "human being", "speak to a human",
            "talk to a human", "speak to someone", "talk to someone", "speak to an agent",
            "talk to an agent", "agent please", "live agent", "representative",
            "supervisor", "speak to a manager", "talk to a manager", "speak with someone",
            "not a bot", "not a robot",
        ),
    },
    ServiceCue.PERSONAL_DATA_REQUEST: {
        "ru": (
            "номер договора", "номер карты", "данные карты", "номер телефона",
            "номер счета", "лицевой счет", "паспорт", "паспортные данные", "cvv", "cvc",
            "код из смс", "пин-код", "пин код", "дата рождения", "снилс", "инн",
            "личные данные", "персональные данные", "в личку", "в личные сообщения",
            "в лс", "в директ",
        ),
        "en": (
            "account number", "card number", "credit card", "phone number",
            "date of birth", "dob", "ssn", "social security", "cvv", "security code",
            "personal details", "personal information", "personal data", "dm me",
            "dm us", "direct message", "private message", "email address",
            "home address", "passport", "routing number", "sort code",
        ),
    },
}
# fmt: on

# Cues are also evidence of negativity (a legal threat is not a neutral message).
CUE_VALENCE: Final[dict[ServiceCue, float]] = {
    ServiceCue.LEGAL_THREAT: -2.4,
    ServiceCue.CHURN_THREAT: -2.4,
    ServiceCue.REPEAT_CONTACT: -1.6,
    ServiceCue.HUMAN_REQUEST: -0.4,
    ServiceCue.PERSONAL_DATA_REQUEST: 0.0,
}

# Checked only when the text holds three digits in a row: a card or phone number
# posted in the message itself.
PERSONAL_DATA_RE: Final = re.compile(
    r"\b(?:\d{4}[ -]?){3}\d{4}\b"  # payment card
    r"|(?<![\w+])\+?[78][\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b"  # RU phone
    r"|(?<![\w+])\+?1?[\s(-]*\d{3}[\s)-]+\d{3}[\s-]+\d{4}\b"  # NANP phone
)
# Checked only when the text holds "@": an e-mail address (the regex starts at the "@",
# so "@handle" mentions cost one failed step each).
EMAIL_RE: Final = re.compile(r"(?<=[\w.+-])@[\w-]+\.[A-Za-z]{2,}")
# Checked only when the text holds a digit: "5 раз", "3-й раз", "3rd time", "5 times".
REPEAT_NUMBER_RE: Final = re.compile(
    r"\d+\s*-?\s*(?:й|ий|ый|ой|th|rd|nd|st)?\s+(?:раз|time)", re.IGNORECASE
)
