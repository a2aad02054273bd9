"""Producing a batch of records as one aiokafka batch per topic partition (one future each)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from streams.pipeline import Record

__all__ = ["send_batched"]


async def send_batched(
    producer: Any, partition_of: Callable[[str, bytes | None], int], records: Sequence[Record]
) -> list[Awaitable[Any]]:
    """Queue `records` on aiokafka `producer`; return one future per (topic, partition) batch.

    `producer.send()` costs a partitioner call, an accumulator lookup and a future per
    record, and faust's wrapper adds its own layer; for a few records per contact that is
    a visible share of a worker's CPU. `create_batch()` / `send_batch()` pay that once
    per partition. The batches go through the producer's own accumulator, so
    `producer.flush()` (which faust awaits before every offset commit) covers them as it
    covers single sends, and records of one partition keep their order.

    Args:
        producer: An `aiokafka.AIOKafkaProducer` (faust's, or the caller's own).
        partition_of: topic, key -> partition, the same hash faust's producer uses
            (`app.producer.key_partition`), so a keyed record lands where a single send
            would put it (the route stage relies on that: the customer-memory table is
            co-partitioned with contacts.normalized). A None key may go anywhere.
        records: What to send, in order.

    Returns:
        Futures that resolve once the broker has acknowledged each batch.
    """
    if not records:
        return []
    groups: dict[tuple[str, int], list[Record]] = {}
    known: set[str] = set()
    for r in records:
        if r.topic not in known:
            await producer.partitions_for(r.topic)  # metadata first: the partitioner needs it
            known.add(r.topic)
        groups.setdefault((r.topic, partition_of(r.topic, r.key)), []).append(r)
    # send_batch waits while an earlier batch of its partition is still lingering, so the
    # partitions are queued concurrently (awaiting them one by one would add those waits
    # up); the chunks of one partition go in order.
    per_partition = await asyncio.gather(
        *(_send_partition(producer, t, p, group) for (t, p), group in groups.items())
    )
    return [future for futures in per_partition for future in futures]


async def _send_partition(
    producer: Any, topic: str, partition: int, records: list[Record]
) -> list[Awaitable[Any]]:
    futures: list[Awaitable[Any]] = []
    batch, filled = producer.create_batch(), 0
    for r in records:
        if batch.append(key=r.key, value=r.value, timestamp=None) is None:
            if not filled:  # aiokafka always takes a batch's first record, whatever its size
                raise ValueError(f"a record for {topic} does not fit an empty batch")
            # Full (the producer's max_batch_size): send it, go on in a new one.
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch, filled = producer.create_batch(), 0
            if batch.append(key=r.key, value=r.value, timestamp=None) is None:
                raise ValueError(f"a record for {topic} does not fit an empty batch")
        filled += 1
    futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures
