"""The route stage without a broker: decisions, then memory, then the commit; rebalances."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import CollectorRegistry

from routing.config import load_config
from routing.contact import Contact
from routing.memory import CustomerMemory
from streams import route_stage
from streams.batches import RecordTooLarge, key_hash
from streams.ingest import Normalizer, Source
from streams.memory_store import MemoryStore, PartitionMemory
from streams.metrics import Metrics
from streams.pipeline import Pipeline
from streams.route_stage import RouteStage
from streams.settings import Settings
from streams.stage import StageKafka
from streams.topics import TopicNames
from tests.unit.conftest import NOW, envelope, raw

TOPICS = TopicNames.from_settings(Settings(topic_prefix="t"))
OPEN = load_config(Path(__file__).resolve().parents[2] / "config" / "open.yaml")


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: None) -> int:
        self.records.append((key, value))
        return len(self.records)


@dataclass
class FakeProducer:
    """The aiokafka producer calls `send_batched` makes; the broker acknowledges a moment later."""

    log: list[tuple[str, str, int, int]] = field(default_factory=list)

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2, 3}

    def create_batch(self) -> Batch:
        return Batch()

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.log.append(("sent", topic, partition, len(batch.records)))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            self.log.append(("acked", topic, partition, len(batch.records)))
            future.set_result(None)

        asyncio.get_running_loop().call_later(0.01, ack)
        return future


@dataclass
class FakeConsumer:
    log: list[tuple[str, str, int, int]]

    def assignment(self) -> set[TP]:
        return set()

    async def commit(self, offsets: dict[TP, int]) -> None:
        for tp, offset in offsets.items():
            self.log.append(("commit", tp.topic, tp.partition, offset))


def stage() -> RouteStage:
    normalizer = Normalizer(lambda: NOW)
    pipeline = Pipeline(TOPICS, normalizer, lambda: NOW, config=lambda: OPEN, native_memory=True)
    return RouteStage(
        pipeline,
        Metrics.create(CollectorRegistry()),
        topic=TOPICS.normalized,
        changelog=TOPICS.memory_changelog,
        kafka=StageKafka("g-route", {}, batch_size=100),
    )


def contacts(n: int) -> list[Contact]:
    normalizer = Normalizer(lambda: NOW)
    out = []
    for i in range(n):
        env = envelope(
            "chat", {"session_id": f"s{i}", "text": "где мой заказ?", "email": f"c{i}@x.example"}
        )
        env["event_id"] = f"e{i}"
        c = normalizer(raw(env), Source(topic="raw", partition=0, offset=i))
        assert isinstance(c, Contact)
        out.append(c)
    return out


def batches_of(items: Sequence[Contact]) -> dict[TP, list[Rec]]:
    out: dict[TP, list[Rec]] = {}
    for c in items:
        key = c.customer_key.encode()
        p = key_hash(key) % 4
        recs = out.setdefault(TP(TOPICS.normalized, p), [])
        recs.append(Rec(TOPICS.normalized, p, len(recs), key, c.model_dump_json().encode()))
    return out


def test_key_hash_is_the_producers_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for i in range(200):
        key = f"phone:{i:08x}".encode()
        for n in (1, 2, 4, 12):
            assert key_hash(key) % n == partitioner(key, list(range(n)), [])


def test_decisions_are_acknowledged_before_the_memory_and_the_commit_come_last() -> None:
    s = stage()
    log: list[tuple[str, str, int, int]] = []
    batches = batches_of(contacts(20))
    s._owned = frozenset(tp.partition for tp in batches)
    asyncio.run(s._process(FakeConsumer(log), FakeProducer(log), batches))
    kinds = [(what, topic == TOPICS.memory_changelog) for what, topic, *_ in log]
    first_changelog = kinds.index(("sent", True))
    last_decision_ack = max(i for i, k in enumerate(kinds) if k == ("acked", False))
    assert last_decision_ack < first_changelog  # a memory on the broker means its decision is
    assert all(what == "commit" for what, *_ in log[-len(batches) :])
    assert {what for what, *_ in log[: -len(batches)]} == {"sent", "acked"}
    # One changelog record per customer, on the partition of its contacts.
    changelog = [(p, n) for what, t, p, n in log if what == "sent" and t == TOPICS.memory_changelog]
    assert sorted(changelog) == sorted((tp.partition, len(recs)) for tp, recs in batches.items())
    commits = {p: o for what, _t, p, o in log if what == "commit"}
    assert commits == {tp.partition: len(recs) for tp, recs in batches.items()}
    assert sum(len(m) for m in s.store.partitions().values()) == 20


def test_records_of_partitions_not_owned_are_left_for_their_new_owner() -> None:
    s = stage()
    log: list[tuple[str, str, int, int]] = []
    batches = batches_of(contacts(20))
    owned = min(tp.partition for tp in batches)
    s._owned = frozenset({owned})
    asyncio.run(s._process(FakeConsumer(log), FakeProducer(log), batches))
    assert {p for what, _t, p, _o in log if what == "commit"} == {owned}
    assert set(s.store.partitions()) == {owned}


def test_a_redelivered_batch_is_not_routed_twice() -> None:
    s = stage()
    log: list[tuple[str, str, int, int]] = []
    batches = batches_of(contacts(10))
    s._owned = frozenset(tp.partition for tp in batches)
    asyncio.run(s._process(FakeConsumer(log), FakeProducer(log), batches))
    decisions = sum(n for what, t, _p, n in log if what == "sent" and t == TOPICS.routed)
    log.clear()
    asyncio.run(s._process(FakeConsumer(log), FakeProducer(log), batches))
    assert decisions == 10
    assert not [t for what, t, *_ in log if what == "sent" and t == TOPICS.routed]


class Restoring(RouteStage):
    """The stage with its changelog read replaced by a record of what it was asked for."""

    restored: list[list[int]]

    async def _restore(self, partitions: Sequence[int]) -> list[PartitionMemory]:
        self.restored.append(list(partitions))
        out = []
        for p in partitions:
            memory = PartitionMemory(p)
            memory.apply(f"k{p}".encode(), orjson.dumps(CustomerMemory().to_dict()))
            out.append(memory)
        return out


class Coordinator:
    member_id = "member-1"


class GroupConsumer:
    """What the listener uses of aiokafka's consumer: pause/resume and the member id."""

    def __init__(self) -> None:
        self._coordinator = Coordinator()
        self.paused: set[int] = set()
        self.calls: list[tuple[str, list[int]]] = []

    def pause(self, *tps: Any) -> None:
        self.paused |= {tp.partition for tp in tps}
        self.calls.append(("pause", sorted(tp.partition for tp in tps)))

    def resume(self, *tps: Any) -> None:
        self.paused -= {tp.partition for tp in tps}
        self.calls.append(("resume", sorted(tp.partition for tp in tps)))


def restoring(cls: type[Restoring] = Restoring) -> tuple[Restoring, GroupConsumer]:
    base = stage()
    s = cls(
        base._pipeline, base._metrics, topic=base.topic, changelog=base.changelog, kafka=base.kafka
    )
    s.restored = []
    consumer = GroupConsumer()
    s._consumer = consumer
    return s, consumer


async def settle(s: RouteStage) -> None:
    if s._restoring is not None:
        await s._restoring


def test_a_rebalance_restores_new_partitions_and_keeps_the_ones_it_still_owns() -> None:
    s, consumer = restoring()

    async def scenario() -> None:
        await s.on_revoked()
        assert not s.settled()
        await s.on_assigned({0, 1})
        # The listener returned at once: the new partitions are paused until restored.
        assert s.assignment() == frozenset() and consumer.paused == {0, 1} and not s.settled()
        await settle(s)
        assert s.assignment() == {0, 1} and s.settled() and consumer.paused == set()
        s.store.partition(1)[b"fresh"] = CustomerMemory()  # routed since
        await s.on_revoked()
        assert s.assignment() == frozenset()  # nothing is routed while the group rebalances
        await s.on_assigned({1, 2})
        assert s.assignment() == {1}  # kept: routed at once, while 2 is being restored
        await settle(s)
        assert s.assignment() == {1, 2}

    asyncio.run(scenario())
    assert s.restored == [[0, 1], [2]]  # partition 1 was kept, not read again
    assert set(s.store.partitions()) == {1, 2}
    assert b"fresh" in s.store.partition(1)
    assert consumer.calls == [
        ("pause", [0, 1]),
        ("resume", [0, 1]),
        ("pause", [2]),
        ("resume", [2]),
    ]


def test_after_a_new_membership_no_memory_is_kept() -> None:
    """An evicted member rejoins with a new id: another worker may have routed its partitions."""
    s, consumer = restoring()

    async def scenario() -> None:
        await s.on_assigned({0, 1})
        await settle(s)
        s.store.partition(0)[b"stale"] = CustomerMemory()
        await s.on_revoked()
        consumer._coordinator.member_id = "member-2"
        await s.on_assigned({0, 1})
        await settle(s)

    asyncio.run(scenario())
    assert s.restored == [[0, 1], [0, 1]]
    assert b"stale" not in s.store.partition(0)


class Slow(Restoring):
    started: asyncio.Event

    async def _restore(self, partitions: Sequence[int]) -> list[PartitionMemory]:
        self.started.set()
        await asyncio.sleep(30)
        return await super()._restore(partitions)


def test_a_revocation_cancels_a_restore_in_progress() -> None:
    s, consumer = restoring(Slow)

    async def scenario() -> None:
        assert isinstance(s, Slow)
        s.started = asyncio.Event()
        await s.on_assigned({0})
        await s.started.wait()
        await asyncio.wait_for(s.on_revoked(), 1.0)  # does not wait out the restore
        assert s.assignment() == frozenset() and s._restoring is None
        assert ("resume", [0]) not in consumer.calls

    asyncio.run(scenario())


class FailingProducer(FakeProducer):
    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future[None]:
        raise RecordTooLarge("a record that cannot be sent")


def test_a_batch_whose_decisions_fail_never_reaches_the_changelog() -> None:
    s = stage()
    log: list[tuple[str, str, int, int]] = []
    batches = batches_of(contacts(10))
    s._owned = frozenset(tp.partition for tp in batches)
    with pytest.raises(RecordTooLarge):
        asyncio.run(s._process(FakeConsumer(log), FailingProducer(log), batches))
    # The memory that holds the batch is gone with its partitions; a flush sends nothing.
    assert s.assignment() == frozenset() and s.store.partitions() == {}
    assert not [e for e in log if e[1] == TOPICS.memory_changelog]


def test_partition_memory_changelogs_the_latest_value_once_per_key() -> None:
    memory = PartitionMemory(3)
    first, second = CustomerMemory(), CustomerMemory(rolling=(-0.5, 1.0, 1.0))
    memory[b"a"] = first
    memory[b"a"] = second
    memory[b"b"] = first
    del memory[b"b"]
    dirty = memory.take_dirty()
    assert dirty.keys() == {b"a", b"b"} and dirty[b"b"] is None
    assert CustomerMemory.from_dict(orjson.loads(dirty[b"a"] or b"")) == second
    assert memory.take_dirty() == {}
    # A restore applies the same records: values replace, tombstones delete.
    restored = PartitionMemory(3)
    for key, value in dirty.items():
        restored.apply(key, value)
    assert dict(restored) == {b"a": second} and restored.take_dirty() == {}
    store = MemoryStore()
    store.install(restored)
    assert store.partition(3) is restored and len(store) == 1


def test_an_unreadable_restored_memory_reads_as_a_new_customer() -> None:
    memory = PartitionMemory(0)
    memory.apply(b"good", orjson.dumps(CustomerMemory(seen={"c1": 1.0}).to_dict()))
    memory.apply(b"bad", b"{not json")
    memory.apply(b"gone", b"{}")
    memory.apply(b"gone", None)  # a tombstone later in the changelog
    assert len(memory) == 2  # kept as bytes until first read
    assert memory.get(b"bad") is None and b"bad" not in memory
    assert memory.get(b"good") == CustomerMemory(seen={"c1": 1.0})
    assert memory.take_dirty() == {}  # reading is not writing


class Flaky(Restoring):
    """A changelog that cannot be read the first two times (a missing topic, a broker away)."""

    failures = 2

    async def _restore(self, partitions: Sequence[int]) -> list[PartitionMemory]:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker away")
        return await super()._restore(partitions)


def test_a_changelog_that_cannot_be_read_is_retried_and_nothing_is_routed_meanwhile(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(route_stage, "_RESTORE_RETRY_S", 0.01)
    s, consumer = restoring(Flaky)

    async def scenario() -> None:
        await s.on_assigned({0})
        await asyncio.sleep(0.005)
        assert s.assignment() == frozenset() and consumer.paused == {0}
        await settle(s)

    asyncio.run(scenario())
    assert s.assignment() == {0} and s.restored == [[0]] and consumer.paused == set()
    assert sum("cannot rebuild the customer memory" in r.message for r in caplog.records) == 2
