"""The normalize stage's own logic without a broker: bugs become dead letters, lag series."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import orjson
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
