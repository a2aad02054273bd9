"""send_batched: one aiokafka batch per topic partition, in order, split when a batch is full."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.batches import send_batched
from streams.pipeline import Record


class FakeBatch:
    """aiokafka's BatchBuilder as send_batched uses it: append until `capacity` records."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, key: bytes | None, value: bytes, timestamp: float | None) -> Any:
        if len(self.records) >= self.capacity:
            return None  # full, like BatchBuilder
        self.records.append((key, value))
        return object()


class FakeProducer:
    """The part of AIOKafkaProducer that send_batched calls; records what was queued."""

    def __init__(self, capacity: int = 100) -> None:
        self.capacity = capacity
        self.sent: list[tuple[str, int, list[tuple[bytes | None, bytes]]]] = []
        self.metadata_for: list[str] = []

    async def partitions_for(self, topic: str) -> set[int]:
        self.metadata_for.append(topic)
        return {0, 1, 2}

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.capacity)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        self.sent.append((topic, partition, batch.records))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def by_key(topic: str, key: bytes | None) -> int:
    return int(key or b"0") % 3


def test_one_batch_per_topic_partition_in_order() -> None:
    producer = FakeProducer()
    records = [Record("a", str(i).encode(), f"v{i}".encode()) for i in range(7)]
    records += [Record("b", b"1", b"w")]

    async def go() -> int:
        futures = await send_batched(producer, by_key, records)
        await asyncio.gather(*futures)
        return len(futures)

    assert asyncio.run(go()) == 4
    assert sorted((t, p, [v for _, v in recs]) for t, p, recs in producer.sent) == [
        ("a", 0, [b"v0", b"v3", b"v6"]),
        ("a", 1, [b"v1", b"v4"]),
        ("a", 2, [b"v2", b"v5"]),
        ("b", 1, [b"w"]),
    ]
    assert sorted(producer.metadata_for) == ["a", "b"]  # once per topic, before hashing


def test_a_full_batch_is_sent_and_the_partition_continues_in_a_new_one() -> None:
    producer = FakeProducer(capacity=2)
    records = [Record("a", b"0", f"v{i}".encode()) for i in range(5)]
    futures = asyncio.run(send_batched(producer, by_key, records))
    assert len(futures) == 3
    assert [[v for _, v in recs] for _, _, recs in producer.sent] == [
        [b"v0", b"v1"],
        [b"v2", b"v3"],
        [b"v4"],
    ]


def test_nothing_to_send_queues_nothing() -> None:
    producer = FakeProducer()
    assert asyncio.run(send_batched(producer, by_key, [])) == []
    assert producer.sent == []


def test_a_batch_that_refuses_its_first_record_is_an_error_not_a_silent_drop() -> None:
    producer = FakeProducer(capacity=0)  # aiokafka's builder never does this
    with pytest.raises(ValueError, match="does not fit an empty batch"):
        asyncio.run(send_batched(producer, by_key, [Record("a", b"0", b"big")]))
    assert producer.sent == []  # and no empty batch went out first


class FailingOnePartition(FakeProducer):
    """Partition 0's first send fails at once; partition 1 is slow to queue its chunks."""

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        if partition == 0:
            raise ConnectionError("leader moved")
        await asyncio.sleep(0.01)  # waits for its earlier chunk to leave, like aiokafka
        return await super().send_batch(batch, topic, partition=partition)


def test_a_failed_send_stops_the_other_partitions_still_queueing() -> None:
    producer = FailingOnePartition(capacity=1)
    records = [Record("a", b"0", b"x")] + [Record("a", b"1", f"v{i}".encode()) for i in range(5)]

    async def go() -> None:
        with pytest.raises(ConnectionError):
            await send_batched(producer, by_key, records)
        await asyncio.sleep(0.1)  # nothing of the failed attempt goes out after it failed

    asyncio.run(go())
    assert len(producer.sent) <= 1  # partition 1 stopped after at most its first chunk
