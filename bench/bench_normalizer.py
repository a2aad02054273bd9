"""Offline throughput of the normalizer and of the pure normalize -> route pipeline (one core).

Run: .venv/bin/python bench/bench_normalizer.py [--n 50000] [--tweets 12000]

The first two lines use the project's templated demo traffic (its texts repeat, so the
signal cache answers most of them); the last one is the worker's own per-contact code,
`Pipeline.normalize` then `Pipeline.route` (contact encoded and decoded as on the topic,
memory, enrich, decide, decision encoded), on real tweets none of which was seen before,
when the shared evaluation data is present (see bench_policy.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_policy import SHARED_TWEETS, load_texts, make_messages

from routing.config import load_config
from streams.demo import DemoTraffic
from streams.ingest import Normalizer, Source
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.topics import TopicNames

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--tweets", type=int, default=12_000, help="unseen tweets to route")
    args = parser.parse_args()
    traffic = DemoTraffic(seed=1, clock=lambda: NOW, retry_share=0.0)
    messages = [next(traffic) for _ in range(args.n)]
    src = Source(topic="bench", partition=0, offset=0)
    config = load_config(Path(__file__).resolve().parent.parent / "config" / "open.yaml")
    normalizer = Normalizer(lambda: NOW)

    t0 = time.perf_counter()
    for raw in messages:
        normalizer(raw, src)
    dt = time.perf_counter() - t0
    print(f"normalizer: {args.n / dt:,.0f} contacts/s ({args.n} demo messages)")

    pipeline = Pipeline(
        TopicNames.from_settings(Settings()),
        normalizer,
        lambda: NOW,
        config=lambda: config,
    )
    memory: dict[bytes, object] = {}
    t0 = time.perf_counter()
    routed = 0
    for raw in messages:
        rec = pipeline.normalize(raw, src)
        if rec.topic.endswith("normalized"):
            routed += len(pipeline.route(rec.value, src, memory)) > 0
    dt = time.perf_counter() - t0
    print(
        f"normalize -> enrich -> decide (pure, open.yaml): {args.n / dt:,.0f} contacts/s "
        f"({routed} routed)"
    )

    if not SHARED_TWEETS:
        print("(no shared tweets found: skipping the unseen-text line)")
        return 0
    pool = load_texts(SHARED_TWEETS)
    n = min(args.tweets, len(pool) // 2)
    # Warm the vocabulary on one half, as a running worker's is; route the other half.
    for raw in make_messages(n, seed=11, texts=pool[:n]):
        rec = pipeline.normalize(raw, src)
        pipeline.route(rec.value, src, memory)
    fresh = make_messages(n, seed=12, texts=pool[n : 2 * n], first=n)
    memory = {}
    t0 = time.perf_counter()
    routed = 0
    for raw in fresh:
        rec = pipeline.normalize(raw, src)
        if rec.topic.endswith("normalized"):
            routed += len(pipeline.route(rec.value, src, memory)) > 0
    dt = time.perf_counter() - t0
    print(
        f"Pipeline.normalize + route, unseen tweets: {n / dt:,.0f} contacts/s "
        f"({dt / n * 1e6:.0f} us each; {routed} routed)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
