"""Demo traffic: realistic mixed-channel contacts in Russian and English, seeded, clock-driven."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["DEMO_DETECTOR", "DemoSchedule", "DemoTraffic", "Phase"]

# Detector settings for demos and tests: learns a baseline in a minute and reacts in
# seconds. Production keeps the defaults (an hour of warm-up, two-minute windows).
DEMO_DETECTOR: dict[str, float | int] = {
    "short_window_s": 10,
    "short_window_max_s": 30,
    "window_expected_count": 60,
    "min_count": 25,
    "confirm_s": 2,
    "exit_confirm_s": 10,
    "min_dwell_s": 20,
    "baseline_half_life_s": 60,
    "level_half_life_s": 300,
    "profile_bucket_s": 3600,  # one bucket per hour: a minutes-long demo never revisits one
    "refresh_s": 10,
    "warmup_s": 30,
    "negativity_min_count": 8,
}

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
        customers: int = 100_000,
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

    def one(self, channel: str, mood: str | None = None) -> bytes:
        """One encoded envelope for `channel` (a surge adds these on top of the mix)."""
        return orjson.dumps(self.envelope(channel, mood))

    def envelope(self, channel: str, mood: str | None = None) -> dict[str, Any]:
        """One valid envelope for `channel`; `mood` forces short, angry or long text."""
        self._seq += 1
        rng = self._rng
        # Most customers write once; a few hundred keep coming back (the repeat contacts
        # a senior specialist should see).
        cust = rng.randrange(300) if rng.random() < 0.03 else rng.randrange(self._customers)
        lang = "ru" if rng.random() < 0.65 else "en"
        texts = _RU if lang == "ru" else _EN
        mood = mood or rng.choices(["short", "angry", "long"], [80, 15, 5])[0]
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


@dataclass(frozen=True, slots=True)
class Phase:
    """What the demo is doing at a moment: extra contacts per second on one channel."""

    name: str
    channel: str | None = None
    extra_per_s: float = 0.0
    mood: str | None = None


class DemoSchedule:
    """A repeating demo script: calm, a load wave on one channel, calm, a wave of negativity.

    Times are seconds since the demo started; the first cycle starts after `warmup` so
    the detector has learned a baseline before anything happens.
    """

    def __init__(self, base_rate: float, *, warmup: float = 90.0, period: float = 180.0) -> None:
        self.base_rate = base_rate
        self.warmup = warmup
        self.period = period

    def at(self, elapsed: float) -> Phase:
        """The phase at `elapsed` seconds."""
        if elapsed < self.warmup:
            return Phase("warm-up")
        t = (elapsed - self.warmup) % (2 * self.period)
        if t < 45:
            # A price-tag error: chats pour in at several times the whole center's rate.
            return Phase("load wave on chat", "chat", 3.0 * self.base_rate)
        if self.period <= t < self.period + 60:
            # An outage: angry messages on top of normal traffic.
            return Phase("negativity wave on messenger", "messenger", 0.6 * self.base_rate, "angry")
        return Phase("calm")
