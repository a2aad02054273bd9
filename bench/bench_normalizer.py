"""Offline throughput of the normalizer and of the pure normalize -> route pipeline (one core).

Run: .venv/bin/python bench/bench_normalizer.py [--n 50000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
