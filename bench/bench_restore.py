"""How long a worker takes to rebuild customer memory from the changelog (a takeover or restart).

Run: .venv/bin/python bench/bench_restore.py [--customers 100000] [--contacts 3]

Writes `--customers` memories (each with `--contacts` remembered contacts, the shape the
route stage writes) to a 4-partition changelog topic on the embedded broker, then times
the route stage's restore of all four partitions, as a worker that takes them over does
before it routes their contacts: memories/s, seconds, and the resident memory it added.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402

from routing.config import load_config  # noqa: E402
from routing.memory import (  # noqa: E402
    CustomerMemory,
    DedupSettings,
    HistoryEntry,
    HistorySettings,
    observe,
    remember,
)
from streams.batches import key_hash, send_acknowledged  # noqa: E402
from streams.embedded_broker import EmbeddedBroker, create_topics  # noqa: E402
from streams.embedded_fixes import true_end_offsets  # noqa: E402
from streams.ingest import Normalizer  # noqa: E402
from streams.metrics import Metrics  # noqa: E402
from streams.pipeline import Pipeline, Record  # noqa: E402
from streams.route_stage import RouteStage  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.stage import StageKafka  # noqa: E402
from streams.topics import TopicNames  # noqa: E402

PARTITIONS = 4


def memory(customer: int, contacts: int) -> CustomerMemory:
    m = CustomerMemory()
    for i in range(contacts):
        at = 1_800_000_000.0 + customer + 3600.0 * i
        m, _ = observe(m, f"{customer:08x}-{i:04x}-5e2f-8c1d-{customer:012x}", at, DedupSettings())
        m = remember(
            m, HistoryEntry(f"c{customer}-{i}", "chat", at, -0.4, False), HistorySettings()
        )
    return m


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main_async(customers: int, contacts: int) -> int:
    with EmbeddedBroker(silent=True) as broker:
        options = {"bootstrap_servers": broker.bootstrap}
        topic = f"bench-restore-{uuid.uuid4().hex[:6]}-customer-memory-changelog"
        await create_topics(broker.bootstrap, {topic: PARTITIONS})
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(linger_ms=5, max_batch_size=256 * 1024, **options)
        await producer.start()
        try:
            chunk: list[Record] = []
            size = 0
            for c in range(customers):
                key = f"email:{c:012x}".encode()
                value = orjson.dumps(memory(c, contacts).to_dict())
                size += len(value)
                chunk.append(Record(topic, key, value, partition=key_hash(key) % PARTITIONS))
                if len(chunk) == 20_000:
                    await send_acknowledged(producer, chunk, "bench")
                    chunk = []
            await send_acknowledged(producer, chunk, "bench")
        finally:
            await producer.stop()
        print(
            f"{customers:,} memories ({contacts} contacts each, {size / customers:.0f} bytes "
            f"as JSON) on {PARTITIONS} partitions of the embedded broker"
        )
        config = load_config(ROOT / "config" / "open.yaml")
        pipeline = Pipeline(
            TopicNames.from_settings(Settings()),
            Normalizer(lambda: datetime.now(UTC)),
            lambda: datetime.now(UTC),  # never routes here
            config=lambda: config,
            native_memory=True,
        )
        stage = RouteStage(
            pipeline,
            Metrics.create(CollectorRegistry()),
            topic="unused",
            changelog=topic,
            kafka=StageKafka("unused", options, batch_size=500),
            end_offsets=lambda reported: true_end_offsets(reported, options),
        )
        rss = _rss_mib()
        t = time.perf_counter()
        restored = await stage._restore(list(range(PARTITIONS)))
        dt = time.perf_counter() - t
        held = sum(len(m) for m in restored)
        assert held == customers, f"restored {held} of {customers}"
        print(
            f"restore of all {PARTITIONS} partitions: {dt:.2f} s, {held / dt:,.0f} memories/s "
            f"(including the end-offset probe); peak RSS +{_rss_mib() - rss:.0f} MiB"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=3, help="remembered contacts each")
    args = parser.parse_args()
    return asyncio.run(main_async(args.customers, args.contacts))


if __name__ == "__main__":
    raise SystemExit(main())
