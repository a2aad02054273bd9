"""Offline decisions/s of normalize -> sentiment + intents -> memory -> decide (one core).

Run: .venv/bin/python bench/bench_policy.py [--n 12000] [--config config/open.yaml]
     [--texts ../shared/data/sentiment/*.csv | --texts synthetic]

Contact texts are real tweets by default (the shared evaluation sets, Russian and
English, 14-280 chars: every text different, with the long tail of words, names, links
and typos that live traffic has), or, with `--texts synthetic` or when the data is
absent, tweet-length texts assembled from fragments with random order numbers, days and
amounts. Either way no text repeats within a run, so the exact-text signal cache never
answers: the figures are for unseen texts with a warm vocabulary. The stage lines run
on one half of the texts and the full path on the other half, unseen by the analyzers.
Contacts arrive over chat, messenger, social, SMS, email and voice from a pool of 5,000
customers (so memory and repeat triggers are exercised). The last line is the project's
templated demo traffic, where repeated texts do hit the cache.
"""

from __future__ import annotations

import argparse
import csv
import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Measurement data shared by the developers (never shipped; see its SOURCES.md).
SHARED_TWEETS = sorted((ROOT.parent / "shared" / "data" / "sentiment").glob("*_tweets.csv"))

from routing.config import load_config  # noqa: E402
from routing.enrich import enricher_for  # noqa: E402
from routing.policy import RoutingContext, compile_policy  # noqa: E402
from streams.demo import DemoTraffic  # noqa: E402
from streams.ingest import Normalizer, Source  # noqa: E402
from streams.offline import OfflineRouter  # noqa: E402

_RU = (
    ["Здравствуйте!", "Добрый день.", "Привет,", "Алло,", ""],
    [
        "где мой заказ {n}?", "хочу отменить заказ {n}", "можно перенести доставку на {d}?",
        "не могу войти в личный кабинет", "списали деньги дважды, {a} рублей",
        "курьер опять не приехал", "верните деньги за заказ {n}", "сколько у меня бонусов?",
        "ценник не совпадает с ценой на кассе", "позовите живого оператора",
        "пишу уже третий раз, никто не отвечает", "подам жалобу в роспотребнадзор",
        "спасибо, всё пришло вовремя", "ухожу к конкурентам", "приложение не работает с {d}",
    ],
    [
        "", "Очень жду ответа.", "Это ужасно!!!", "Помогите пожалуйста 🙏", "Спасибо.",
        "Сколько можно?!", "Номер заказа {n}.", "Жду с {d}.", "😡", "Уже {k} дня жду.",
    ],
)  # fmt: skip
_EN = (
    ["Hi,", "Hello!", "Hey team,", "Good morning.", ""],
    [
        "where is my order {n}?", "I want to cancel my order {n}",
        "can I reschedule the delivery to {d}?", "I can't log in to my account",
        "you charged me twice, ${a}", "the courier didn't show up again",
        "I want a refund for order {n}", "how many loyalty points do I have?",
        "the price tag said {a} but I was charged more", "let me talk to a real person",
        "third time writing, nobody answers", "I'm filing a complaint with the BBB",
        "thanks, everything arrived on time", "I'm switching to your competitor",
        "the app has been broken since {d}",
    ],
    [
        "", "Please reply asap.", "This is terrible!!!", "Please help 🙏", "Thanks.",
        "Unbelievable.", "Order #{n}.", "Waiting since {d}.", "😡", "{k} days now.",
    ],
)  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Friday", "понедельника", "пятницы", "вторника")
_CHANNELS = ("chat", "messenger", "social_public", "sms", "email", "voice", "social_private")


def _text(rng: random.Random) -> tuple[str, str]:
    lang = "ru" if rng.random() < 0.5 else "en"
    greet, issues, tails = _RU if lang == "ru" else _EN
    parts = [rng.choice(greet), rng.choice(issues)]
    for _ in range(rng.randint(1, 3)):
        parts.append(rng.choice(tails))
    if rng.random() < 0.3:
        parts.append(rng.choice(issues))
    text = " ".join(p for p in parts if p).format(
        n=rng.randint(10_000, 99_999),
        d=rng.choice(_DAYS),
        a=rng.randint(100, 9_999),
        k=rng.randint(2, 9),
    )
    return text[:280], lang


def _payload(channel: str, i: int, customer: int, text: str) -> dict[str, object]:
    if channel == "chat":
        return {"session_id": f"s{i}", "text": text, "email": f"c{customer}@mail.example"}
    if channel == "messenger":
        return {"messenger": "telegram", "chat_id": f"t{customer}", "text": text}
    if channel in ("social_public", "social_private"):
        extra = (
            {"url": f"https://vk.example/p/{i}"}
            if channel == "social_public"
            else {"conversation_id": f"dm{customer}"}
        )
        return {"network": "vk", "author_handle": f"@u{customer}", "text": text, **extra}
    if channel == "sms":
        return {"from_number": f"+7916{customer:07d}", "text": text}
    if channel == "email":
        return {
            "from": f"c{customer}@mail.example",
            "to": ["support@shop.example"],
            "subject": "Заказ" if i % 2 else "Order",
            "body": text,
        }
    return {"call_id": f"call{i}", "caller_number": f"+7916{customer:07d}", "transcript": text}


def load_texts(paths: list[Path], seed: int = 7) -> list[str]:
    """Distinct non-empty texts (at most 280 chars) from `text,label` CSV files, shuffled."""
    texts: dict[str, None] = {}
    for path in paths:
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                text = (row.get("text") or "").strip()[:280]
                if text:
                    texts[text] = None
    out = list(texts)
    random.Random(seed).shuffle(out)
    return out


def make_messages(
    n: int, seed: int = 11, texts: list[str] | None = None, first: int = 0
) -> list[bytes]:
    """`n` raw envelopes, about 20 per second of event time, from 5,000 customers.

    Texts come from `texts` (in order, each used once) or from the synthetic generator.
    `first` numbers the event ids, so batches made for one router do not collide.
    """
    rng = random.Random(seed)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    out = []
    for j in range(n):
        i = first + j
        channel = rng.choice(_CHANNELS)
        text = texts[j] if texts is not None else _text(rng)[0]
        env = {
            "event_id": f"b{i}",
            "channel": channel,
            "occurred_at": (start + timedelta(milliseconds=50 * i)).isoformat(),
            "schema_version": 1,
            "payload": _payload(channel, i, rng.randrange(5_000), text),
        }
        if channel == "social_public":
            env["payload"]["customer_tier"] = "vip" if i % 17 == 0 else None  # type: ignore[index]
        out.append(orjson.dumps(env))
    return out


def _text_of(message: bytes) -> str:
    payload = orjson.loads(message)["payload"]
    return str(payload.get("text") or payload.get("body") or payload.get("transcript") or "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=12_000, help="contacts per stage and full run")
    parser.add_argument("--config", default=str(ROOT / "config" / "open.yaml"))
    parser.add_argument(
        "--texts",
        nargs="+",
        default=[str(p) for p in SHARED_TWEETS] or ["synthetic"],
        help="CSV files with a `text` column, or `synthetic` (default: the shared tweets)",
    )
    args = parser.parse_args()
    config = load_config(args.config)
    n = args.n
    if args.texts == ["synthetic"]:
        source = "synthetic fragments with random numbers"
        stage_msgs = make_messages(n, seed=11)
        full_msgs = make_messages(n, seed=12, first=n)
    else:
        pool = load_texts([Path(p) for p in args.texts])
        n = min(n, len(pool) // 2)
        source = f"{len(pool):,} distinct tweets from {len(args.texts)} file(s)"
        stage_msgs = make_messages(n, seed=11, texts=pool[:n])
        full_msgs = make_messages(n, seed=12, texts=pool[n : 2 * n], first=n)
    mean_len = sum(len(_text_of(m)) for m in full_msgs) / n
    print(f"{n} contacts per run, config {config.version} ({config.strategy}); texts: {source}")

    gc.collect()
    gc.freeze()  # the message lists are long-lived; keep the collector off them
    norm = Normalizer(lambda: datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    src = Source(topic="bench", partition=0, offset=0)
    t = time.perf_counter()
    contacts = [norm(m, src) for m in stage_msgs]
    dt_norm = time.perf_counter() - t
    print(f"normalize only:           {n / dt_norm:>9,.0f} contacts/s")

    enricher = enricher_for(config)
    t = time.perf_counter()
    signals = [enricher(c) for c in contacts]  # type: ignore[arg-type]
    dt_enrich = time.perf_counter() - t
    print(f"sentiment + intents only: {n / dt_enrich:>9,.0f} contacts/s (texts not seen before)")

    policy = compile_policy(config)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    contexts = [RoutingContext(now=now, sentiment=s.sentiment, intents=s.intents) for s in signals]
    t = time.perf_counter()
    for c, ctx in zip(contacts, contexts, strict=True):
        policy.decide(c, ctx)  # type: ignore[arg-type]
    dt_decide = time.perf_counter() - t
    print(f"decide only:              {n / dt_decide:>9,.0f} decisions/s (no history, normal load)")
    del contacts, signals, contexts

    # The full offline path, fresh router (customer memory and wave detector included), on
    # the other half of the texts: the analyzers know the vocabulary, not these texts.
    router = OfflineRouter(config)
    t = time.perf_counter()
    routed = sum(router.process(m, i).decision is not None for i, m in enumerate(full_msgs))
    dt_full = time.perf_counter() - t
    print(
        f"full offline path:        {n / dt_full:>9,.0f} decisions/s "
        f"({routed} routed; normalize -> enrich -> memory -> waves -> decide)"
    )
    # The project's demo traffic: templated texts that repeat, as real contact-center
    # traffic does, so the enricher's exact-text cache answers most of them.
    clock = iter(datetime(2026, 11, 23, 8, 0, tzinfo=UTC) + timedelta(milliseconds=50 * i)
                 for i in range(10 * n))  # fmt: skip
    demo = DemoTraffic(seed=5, clock=lambda: next(clock))
    templated = [next(demo) for _ in range(n)]
    router = OfflineRouter(config)
    t = time.perf_counter()
    routed = sum(router.process(m, i).decision is not None for i, m in enumerate(templated))
    dt_demo = time.perf_counter() - t
    print(
        f"full path, demo traffic:  {n / dt_demo:>9,.0f} decisions/s "
        f"({routed} routed, the rest dead letters/duplicates the demo injects)"
    )
    print(f"mean text length {mean_len:.0f} chars; target >= 20,000 decisions/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
