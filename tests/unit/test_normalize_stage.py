"""The normalize stage's own logic without a broker: bugs become dead letters, lag series."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import orjson
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from routing.config import load_config
from streams.ingest import Normalizer, Source
from streams.metrics import Metrics
from streams.normalize_stage import NormalizeStage
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.stage import StageKafka
from streams.topics import TopicNames
from tests.unit.conftest import NOW, envelope, raw

TOPICS = TopicNames.from_settings(Settings(topic_prefix="t"))
OPEN = load_config(Path(__file__).resolve().parents[2] / "config" / "open.yaml")


@dataclass(frozen=True)
class Rec:
    """The fields of aiokafka's ConsumerRecord that the stage reads."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


class FakeConsumer:
    """assignment() and highwater() of AIOKafkaConsumer."""

    def __init__(self, ends: dict[TP, int]) -> None:
        self.ends = ends

    def assignment(self) -> set[TP]:
        return set(self.ends)

    def highwater(self, tp: TP) -> int | None:
        return self.ends.get(tp)


class Exploding(Normalizer):
    def __call__(self, raw: bytes, source: Source | None = None) -> NoReturn:
        raise RuntimeError("a bug")


def stage(normalizer: Normalizer, metrics: Metrics) -> NormalizeStage:
    pipeline = Pipeline(TOPICS, normalizer, lambda: NOW, config=lambda: OPEN)
    return NormalizeStage(
        pipeline,
        metrics,
        topic=TOPICS.raw,
        kafka=StageKafka("g-normalize", {}, batch_size=10),
    )


def test_a_normalizer_bug_becomes_an_internal_error_dead_letter() -> None:
    metrics = Metrics.create(CollectorRegistry())
    s = stage(Exploding(lambda: NOW), metrics)
    record = s._normalize(Rec(TOPICS.raw, 2, 7, b"{}"))
    assert record.topic == TOPICS.dlq
    dead = orjson.loads(record.value)
    assert (dead["reason"], dead["stage"]) == ("internal_error", "normalize")
    assert (dead["source"]["partition"], dead["source"]["offset"]) == (2, 7)


def test_a_good_record_is_normalized_keyed_by_customer() -> None:
    s = stage(Normalizer(lambda: NOW), Metrics.create(CollectorRegistry()))
    record = s._normalize(Rec(TOPICS.raw, 0, 1, raw(envelope("chat"))))
    assert record.topic == TOPICS.normalized and record.key


def test_lag_is_set_for_assigned_partitions_and_removed_when_revoked() -> None:
    registry = CollectorRegistry()
    s = stage(Normalizer(lambda: NOW), Metrics.create(registry))
    p0, p1 = TP(TOPICS.raw, 0), TP(TOPICS.raw, 1)
    s._consumer = FakeConsumer({p0: 50, p1: 9})
    s._lag.committed({p0: 20})
    s.refresh_lag()

    def lag(partition: int) -> float | None:
        return registry.get_sample_value(
            "wavebreak_consumer_lag", {"topic": TOPICS.raw, "partition": str(partition)}
        )

    assert (lag(0), lag(1)) == (30, 0)  # no commit yet on partition 1: 0, as faust reports
    s._consumer = FakeConsumer({p1: 9})  # partition 0 moved to another worker
    s.refresh_lag()
    assert (lag(0), lag(1)) == (None, 0)
    s._consumer = FakeConsumer({p0: 50, p1: 9})  # back: its position is unknown until a commit
    s.refresh_lag()
    assert (lag(0), lag(1)) == (0, 0)


class Batch:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, *, key: bytes | None, value: bytes, timestamp: None) -> int:
        self.values.append(value)
        return len(self.values)


class SizeLimitedBroker:
    """The producer calls of `send_batched`; the broker refuses batches with a record over 2 KB."""

    def __init__(self) -> None:
        self.stored: list[tuple[str, bytes]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if any(len(v) > 2048 for v in batch.values):
            future.set_exception(MessageSizeTooLargeError())
        else:
            self.stored += [(topic, v) for v in batch.values]
            future.set_result(None)
        return future


@dataclass
class Committer:
    committed: dict[TP, int] = field(default_factory=dict)

    async def commit(self, offsets: dict[TP, int]) -> None:
        self.committed.update(offsets)


def test_outputs_over_the_brokers_size_limit_become_small_dead_letters() -> None:
    s = stage(Normalizer(lambda: NOW), Metrics.create(CollectorRegistry()))
    long_text = "Где мой заказ? " * 300  # a 4.5 KB letter: fine as input, too large for this broker
    inputs = [
        raw(envelope("chat", event_id="ok")),
        raw(envelope("chat", {"session_id": "s", "text": long_text}, event_id="long")),
        b"x" * 3000,  # not JSON, and its dead letter with the original is too large too
    ]
    tp = TP(TOPICS.raw, 0)
    batches = {tp: [Rec(TOPICS.raw, 0, i, v) for i, v in enumerate(inputs)]}
    broker, consumer = SizeLimitedBroker(), Committer()
    asyncio.run(s._process(consumer, broker, batches))
    assert consumer.committed == {tp: 3}  # nothing stalls, nothing is left behind
    by_topic: dict[str, list[dict[str, object]]] = {}
    for topic, value in broker.stored:
        by_topic.setdefault(topic, []).append(orjson.loads(value))
    # "ok" may go twice (its batch went through before the retry one by one): at-least-once.
    assert {c["event_id"] for c in by_topic[TOPICS.normalized]} == {"ok"}
    dead = {d["reason"]: d for d in by_topic[TOPICS.dlq]}
    assert dead.keys() == {"too_large", "not_json"}
    assert dead["too_large"]["event_id"] == "long" and dead["too_large"]["original_b64"] == ""
    assert dead["too_large"]["source"] == {"topic": TOPICS.raw, "partition": 0, "offset": 1}
    assert dead["not_json"]["original_b64"] == "" and dead["not_json"]["original_size"] == 3000
    assert f"{TOPICS.raw}[0]@2" in str(dead["not_json"]["message"])
