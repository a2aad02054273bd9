"""Producing records in batches (one aiokafka batch per topic partition) until acknowledged."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.partitioner import murmur2

from streams.pipeline import Record

__all__ = [
    "RecordTooLarge",
    "key_hash",
    "refused_for_good",
    "retry_until_acknowledged",
    "send_acknowledged",
    "send_batched",
]

log = logging.getLogger(__name__)

_HASHES: dict[bytes, int] = {}
_HASH_CACHE_LIMIT = 100_000


class RecordTooLarge(ValueError):
    """A record larger than the producer's batch size limit: no retry will send it."""


def refused_for_good(exc: BaseException) -> bool:
    """Whether a send failed because of the records themselves (too large), not the broker."""
    from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError

    return isinstance(exc, RecordTooLarge | MessageSizeTooLargeError | RecordListTooLargeError)


def key_hash(key: bytes) -> int:
    """murmur2(key) & 0x7FFFFFFF, Kafka's default partitioner hash, cached per key.

    aiokafka's murmur2 is pure Python (a few us a key, measured at ~3 % of a worker's
    CPU); one customer's key is hashed again for every contact and every output record.
    """
    h = _HASHES.get(key)
    if h is None:
        if len(_HASHES) >= _HASH_CACHE_LIMIT:
            _HASHES.clear()
        h = _HASHES[key] = int(murmur2(key)) & 0x7FFFFFFF
    return h


async def retry_until_acknowledged(
    send: Callable[[], Awaitable[Sequence[Awaitable[Any]]]], what: str
) -> None:
    """Await `send()` and every future it returns; on any failure back off and send again.

    A failed attempt sends everything again: what did get through becomes a duplicate,
    which the route stage drops by contact id (and a dead letter twice is better than
    none). Backs off from 0.1 s, doubling up to 5 s; `what` names the attempt in the log.
    A send refused for the records themselves (`refused_for_good`) is raised, not retried.
    """
    delay = 0.1
    while True:
        try:
            await asyncio.gather(*await send())
            return
        except Exception as exc:  # broker unreachable, leader moved, request timed out
            if refused_for_good(exc):
                raise
            log.warning("%s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


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
        producer: An `aiokafka.AIOKafkaProducer`.
        partition_of: topic, key -> partition, the producer's default hash (see
            `send_acknowledged`), so a keyed record lands where a single send would put
            it: contacts.normalized is keyed by customer, and the route stage keeps each
            customer's memory on the partition of their contacts. A None key may go
            anywhere.
        records: What to send, in order; a record's own `partition` wins over the hash.

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
        p = r.partition if r.partition is not None else partition_of(r.topic, r.key)
        groups.setdefault((r.topic, p), []).append(r)
    # send_batch waits while an earlier batch of its partition is still lingering, so the
    # partitions are queued concurrently (awaiting them one by one would add those waits
    # up); the chunks of one partition go in order.
    tasks = [
        asyncio.ensure_future(_send_partition(producer, t, p, group))
        for (t, p), group in groups.items()
    ]
    try:
        per_partition = await asyncio.gather(*tasks)
    except BaseException:
        # A retry sends everything again: a sibling still queueing the rest of its
        # partition's chunks must not go on and land after the retry's newer records.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [future for futures in per_partition for future in futures]


async def _send_partition(
    producer: Any, topic: str, partition: int, records: list[Record]
) -> list[Awaitable[Any]]:
    futures: list[Awaitable[Any]] = []
    batch, filled = producer.create_batch(), 0
    for r in records:
        if batch.append(key=r.key, value=r.value, timestamp=None) is None:
            if not filled:  # aiokafka always takes a batch's first record, whatever its size
                raise RecordTooLarge(f"a record for {topic} does not fit an empty batch")
            # Full (the producer's max_batch_size): send it, go on in a new one.
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch, filled = producer.create_batch(), 0
            if batch.append(key=r.key, value=r.value, timestamp=None) is None:
                raise RecordTooLarge(f"a record for {topic} does not fit an empty batch")
        filled += 1
    futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures


async def send_acknowledged(
    producer: Any,
    records: Sequence[Record],
    what: str,
    replace: Callable[[Record, BaseException], Record] | None = None,
) -> None:
    """Send `records` on `producer`; return once the broker has them all, retrying until then.

    Keyed records go where aiokafka's default partitioner (murmur2 of the key, as faust's
    producer and Kafka's Java client hash it) puts them, so contacts.normalized stays
    co-partitioned with the customer-memory changelog.

    A batch the broker refuses for its records' size is sent again one record at a time,
    and each record refused alone is sent as `replace(record, error)` instead (a small
    dead letter), so one oversized record neither stops the stage nor is lost silently.
    Without `replace` the refusal is raised.
    """
    if not records:
        return
    partitions: dict[str, list[int]] = {}
    for topic in {r.topic for r in records}:
        partitions[topic] = sorted(await producer.partitions_for(topic))

    def partition_of(topic: str, key: bytes | None) -> int:
        parts = partitions[topic]
        if key is None:
            return random.choice(parts)
        return parts[key_hash(key) % len(parts)]

    try:
        await retry_until_acknowledged(
            lambda: send_batched(producer, partition_of, records),
            f"{what}: producing {len(records)} records",
        )
        return
    except Exception as exc:
        if replace is None or not refused_for_good(exc):
            raise
        log.warning("%s: a batch was refused (%s); sending it record by record", what, exc)

    async def send_one(record: Record) -> None:
        await retry_until_acknowledged(lambda: send_batched(producer, partition_of, [record]), what)

    for record in records:
        try:
            await send_one(record)
        except Exception as exc:
            if not refused_for_good(exc):
                raise
            log.error("%s: a record for %s was refused (%s); replaced", what, record.topic, exc)
            await send_one(replace(record, exc))
