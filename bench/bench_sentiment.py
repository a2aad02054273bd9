"""Benchmark `routing.sentiment`: texts/s on tweet- and email-length texts, and analyzer memory."""

from __future__ import annotations

import argparse
import gc
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routing.sentiment import Analyzer  # after the path tweak above, so it runs uninstalled

# Synthetic fragments written for this benchmark: complaints, praise, neutral requests.
_RU = (
    "опять не работает мобильный интернет",
    "третий раз пишу в поддержку и никто не отвечает",
    "спасибо большое, всё быстро решили",
    "где мой заказ? обещали привезти вчера",
    "хочу отменить заказ и вернуть деньги",
    "оператор был очень вежлив и помог",
    "списали деньги за услугу, которую я не подключал",
    "подскажите, как поменять тариф",
    "ужасный сервис, уйду к конкурентам",
    "курьер опоздал на два часа((",
    "всё отлично, спасибо)))",
    "не могу войти в личный кабинет, пароль не подходит",
    "в отделении огромная очередь, работает одно окно",
    "бонусы так и не начислили",
    "ценник на полке не совпадает с ценой на кассе",
)
_EN = (
    "my order still hasn't arrived",
    "thanks, the agent was really helpful",
    "I want to cancel my subscription",
    "the app keeps crashing when I log in",
    "can you reschedule my delivery to Friday?",
    "worst customer service ever, I'm switching to another bank",
    "I was charged twice for the same order",
    "great job, everything works now :)",
    "nobody answers the phone, this is the third time I call",
    "where is my refund???",
    "the price on the shelf was wrong",
    "please let me talk to a real person",
    "how do I reset my password",
    "not happy with the delivery at all",
    "love the new loyalty programme!",
)
_EMOJI = ("", "", "", " 😡", " 🙂", " 👍", " 😭", "!!!", "???", " :(")


def make_texts(count: int, min_chars: int, seed: int) -> list[str]:
    """Synthetic RU/EN texts of at least `min_chars` characters (one language per text)."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(count):
        pool = _RU if rng.random() < 0.5 else _EN
        parts: list[str] = []
        length = 0
        while length < min_chars:
            part = rng.choice(pool) + rng.choice(_EMOJI)
            parts.append(part)
            length += len(part) + 2
        texts.append(". ".join(parts))
    return texts


def texts_per_second(fn: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Best-of-three throughput of `fn` over `texts`, each round at least `seconds` long."""
    best = 0.0
    for _ in range(3):
        done = 0
        started = time.perf_counter()
        elapsed = 0.0
        while elapsed < seconds:
            for text in texts:
                fn(text)
            done += len(texts)
            elapsed = time.perf_counter() - started
        best = max(best, done / elapsed)
    return best


def _rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per round")
    parser.add_argument(
        "--morphology", choices=("snowball", "pymorphy", "pymorphy+stem"), default="snowball"
    )
    args = parser.parse_args()

    gc.collect()
    rss_before = _rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    analyzer = Analyzer(morphology=args.morphology)
    build_s = time.perf_counter() - started
    built, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = _rss_mib()

    tweets = make_texts(2_000, 60, seed=1)
    emails = make_texts(300, 1_000, seed=2)
    for text in tweets + emails:  # warm the token cache, as a running worker would be
        analyzer.analyze(text)
    avg_tweet = sum(map(len, tweets)) / len(tweets)
    avg_email = sum(map(len, emails)) / len(emails)

    print(f"analyzer: morphology={analyzer.morphology}, built in {build_s:.2f} s")
    print(
        f"memory: analyzer allocations {built / 2**20:.1f} MiB (tracemalloc), "
        f"process max RSS +{rss_after - rss_before:.1f} MiB while building"
    )
    for name, texts, lang_note in (
        ("tweet", tweets, f"avg {avg_tweet:.0f} chars"),
        ("email", emails, f"avg {avg_email:.0f} chars"),
    ):
        for language in ("other", "ru/en given"):
            if language == "other":
                rate = texts_per_second(analyzer.analyze, texts, args.seconds)
            else:
                langs = {t: ("ru" if any("а" <= c <= "я" for c in t) else "en") for t in texts}

                def given(text: str, _langs: dict[str, str] = langs) -> object:
                    return analyzer.analyze(text, _langs[text])

                rate = texts_per_second(given, texts, args.seconds)
            print(f"{name:5} ({lang_note}, language={language}): {rate:,.0f} texts/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
