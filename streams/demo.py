"""Demo traffic: realistic mixed-channel contacts in Russian and English, seeded, clock-driven."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["DemoTraffic"]

_RU = {
    "short": [
        "Где мой заказ? Номер 48213",
        "Хочу отменить заказ",
        "Можно перенести доставку на завтра?",
        "Не могу войти в личный кабинет, не приходит код",
        "Сколько у меня бонусов?",
        "Здравствуйте, подскажите статус заказа",
        "Как оформить возврат?",
        "Спасибо, всё получила, очень довольна!",
    ],
    "angry": [
        "Третий раз пишу!!! Деньги списали дважды, а заказа нет. Верните деньги!",
        "Ужасный сервис, курьер опять не приехал. Позовите живого оператора",
        "Если не вернёте деньги, пишу жалобу в Роспотребнадзор и иду в суд",
        "Всё, расторгаю договор и ухожу к конкурентам. Сколько можно?!",
        "Не могу до вас дозвониться уже неделю 😡",
    ],
    "long": [
        "Добрый день. Пишу вам подробно, потому что ситуация тянется уже месяц. "
        "Сначала заказ задержали на неделю, потом привезли не тот товар, курьер отказался "
        "ждать, пока я проверю комплектацию, а в чате мне трижды ответили шаблоном. "
    ],
}
_EN = {
    "short": [
        "Where is my order? It's #48213",
        "I want to cancel my order",
        "Can I reschedule the delivery to Friday?",
        "I can't log in, the password reset email never arrives",
        "How many loyalty points do I have?",
        "Hi, what's the status of my refund?",
        "The price tag on the shelf said 4.99 but I was charged 7.99",
        "Thanks, the package arrived, great service!",
    ],
    "angry": [
        "This is the third time I'm writing!!! You charged me twice and nothing arrived.",
        "Terrible service, the courier didn't show up AGAIN. I want a real person.",
        "If I don't get my money back I'm calling my lawyer and filing a complaint with the BBB",
        "I'm cancelling my account and switching to your competitor.",
        "Still waiting, nobody answers the phone :(",
    ],
    "long": [
        "Hello. I'm writing in detail because this has been going on for a month. First the "
        "order was delayed by a week, then the wrong item was delivered, the courier refused to "
        "wait while I checked it, and your chat answered me three times with a template. "
    ],
}
_NETWORKS = ["vk", "telegram", "x", "facebook", "instagram"]
_MESSENGERS = ["whatsapp", "telegram", "viber"]
# Rough channel mix of a retail contact center: voice and chat lead, public posts are rare.
_MIX = [
    ("voice", 24),
    ("chat", 20),
    ("messenger", 12),
    ("email", 10),
    ("web_form", 7),
    ("callback", 6),
    ("sms", 5),
    ("social_private", 5),
    ("social_public", 5),
    ("in_person", 4),
    ("forum", 2),
]


class DemoTraffic:
    """Endless stream of demo envelopes (bytes), with a small share of broken input.

    Args:
        seed: RNG seed, so a demo run is reproducible.
        clock: returns the current aware datetime (the envelopes' occurred_at).
        bad_share: fraction of messages that are deliberately invalid, to show dead letters.
        retry_share: fraction re-sent with the same event_id, to show deduplication.
    """

    def __init__(
        self,
        seed: int = 7,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        bad_share: float = 0.02,
        retry_share: float = 0.01,
        customers: int = 400,
    ) -> None:
        self._rng = random.Random(seed)
        self._clock = clock
        self._bad = bad_share
        self._retry = retry_share
        self._customers = customers
        self._seq = 0
        self._last: bytes | None = None
        self._channels = [c for c, _ in _MIX]
        self._weights = [w for _, w in _MIX]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        rng = self._rng
        if self._last is not None and rng.random() < self._retry:
            return self._last  # an adapter retry: same event_id, must be routed once
        if rng.random() < self._bad:
            return self._broken()
        channel = rng.choices(self._channels, self._weights)[0]
        envelope = self.envelope(channel)
        self._last = orjson.dumps(envelope)
        return self._last

    def envelope(self, channel: str) -> dict[str, Any]:
        """One valid envelope for `channel`."""
        self._seq += 1
        rng = self._rng
        cust = rng.randrange(self._customers)
        lang = "ru" if rng.random() < 0.65 else "en"
        texts = _RU if lang == "ru" else _EN
        mood = rng.choices(["short", "angry", "long"], [80, 15, 5])[0]
        text = rng.choice(texts[mood])
        if mood == "long":
            text = text * 4
        phone = f"+7 916 {cust // 100:03d}-{cust % 100:02d}-{(cust * 7) % 100:02d}"
        email = f"customer{cust}@example.com"
        handle = f"@user{cust}"
        tier = "vip" if cust % 50 == 0 else None
        payload: dict[str, Any] = {"customer_tier": tier} if tier else {}
        if channel == "voice":
            payload |= {
                "call_id": f"call-{self._seq}",
                "caller_number": phone,
                "ivr_path": rng.choice([["1"], ["2", "orders"], ["3", "cards", "0"]]),
                "wait_seconds": round(rng.uniform(0, 90), 1),
            }
            if rng.random() < 0.6:
                payload["transcript"] = text
        elif channel == "callback":
            payload |= {"phone": phone, "topic": "orders", "comment": text, "origin": "web"}
        elif channel == "chat":
            payload |= {"session_id": f"s-{self._seq}", "text": text, "email": email}
        elif channel == "email":
            subject = "Заказ" if lang == "ru" else "My order"
            payload |= {"from": email, "to": ["support@shop.example"], "subject": subject}
            payload["body"] = text
        elif channel == "sms":
            payload |= {"from_number": phone, "text": text[:160]}
        elif channel == "social_public":
            net = rng.choice(_NETWORKS)
            payload |= {
                "network": net,
                "author_handle": handle,
                "url": f"https://{net}.example/p/{self._seq}",
                "text": text,
                "kind": rng.choice(["post", "comment", "review"]),
                "author_followers": rng.choice([12, 340, 5200, 120000]),
            }
        elif channel == "social_private":
            net = rng.choice(_NETWORKS)
            payload |= {
                "network": net,
                "author_handle": handle,
                "conversation_id": f"dm-{cust}",
                "text": text,
            }
        elif channel == "messenger":
            payload |= {
                "messenger": rng.choice(_MESSENGERS),
                "chat_id": f"m-{cust}",
                "phone": phone,
                "text": text,
            }
        elif channel == "web_form":
            payload |= {"form_id": "contact-us", "email": email, "message": text}
        elif channel == "forum":
            payload |= {
                "forum": "community",
                "author_handle": handle,
                "thread_id": f"t-{self._seq % 50}",
                "url": f"https://community.example/t/{self._seq % 50}",
                "text": text,
            }
        elif channel == "in_person":
            payload |= {
                "location_kind": rng.choice(["branch", "store"]),
                "location_id": f"msk-{rng.randrange(12):02d}",
                "ticket_number": f"A{self._seq % 1000:03d}",
                "ticket_topic": rng.choice(["returns", "cards", "orders"]),
                "phone": phone,
            }
        return {
            "event_id": f"demo-{self._seq}",
            "channel": channel,
            "occurred_at": self._clock().isoformat(),
            "schema_version": 1,
            "payload": payload,
        }

    def _broken(self) -> bytes:
        self._seq += 1
        kind = self._rng.randrange(4)
        if kind == 0:
            return b'{"event_id": "demo-broken", "channel": '  # truncated by a crashing adapter
        if kind == 1:
            env = self.envelope("chat")
            env["channel"] = "pigeon_post"
            return orjson.dumps(env)
        if kind == 2:
            env = self.envelope("email")
            env["occurred_at"] = "yesterday at noon"
            return orjson.dumps(env)
        env = self.envelope("sms")
        del env["payload"]["text"]
        return orjson.dumps(env)
