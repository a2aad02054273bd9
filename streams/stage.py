"""What the two lean stages share: their Kafka clients, the batch commit, the lag gauge."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.metrics import Metrics

__all__ = ["LagGauge", "StageKafka", "commit_batch"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageKafka:
    """A stage's consumer group and Kafka clients.

    Attributes:
        group_id: The stage's own consumer group.
        client: aiokafka connection options (bootstrap servers, security).
        consumer: Further consumer settings (session timeout, fetch wait, ...).
        producer: Further producer settings (linger, batch size, acks, ...).
        batch_size: Most records per batch (per fetch).
    """

    group_id: str
    client: Mapping[str, Any]
    consumer: Mapping[str, Any] = field(default_factory=dict)
    producer: Mapping[str, Any] = field(default_factory=dict)
    batch_size: int = 500

    def make_producer(self) -> Any:
        """A producer (not started)."""
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(**self.producer, **self.client)

    def make_consumer(self, *topics: str) -> Any:
        """A consumer in the stage's group, committing by hand, from the earliest offset."""
        from aiokafka import AIOKafkaConsumer

        return AIOKafkaConsumer(
            *topics,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            **self.consumer,
            **self.client,
        )


async def commit_batch(
    consumer: Any, offsets: Mapping[Any, int], *, stage: str, metrics: Metrics, lag: LagGauge
) -> bool:
    """Commit a batch whose outputs the broker has; False if a rebalance refused it.

    A refused commit loses nothing: the batch's outputs are on the broker, and the
    partitions' next owner re-reads the batch from the last commit (the route stage drops
    its contacts as already routed).
    """
    from aiokafka.errors import CommitFailedError, IllegalStateError

    started = time.monotonic()
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:
        log.warning("%s: commit refused after a rebalance (%s)", stage, type(exc).__name__)
        return False
    metrics.commit_latency.observe(time.monotonic() - started)
    lag.committed(offsets)
    return True


class LagGauge:
    """`wavebreak_consumer_lag{topic,partition}` for the partitions one aiokafka consumer holds.

    The position is the last committed offset; a partition without records or commits
    since this worker took it reports 0, as faust's partitions do. Series of revoked
    partitions are removed, so a dashboard's sum over workers counts each partition once.
    """

    def __init__(self, gauge: Any, topic: str) -> None:
        self._gauge = gauge
        self._topic = topic
        self._committed: dict[int, int] = {}
        self._series: set[int] = set()

    def committed(self, offsets: Mapping[Any, int]) -> None:
        """Record committed offsets (TopicPartition -> next offset to read)."""
        for tp, offset in offsets.items():
            self._committed[tp.partition] = offset

    def refresh(self, consumer: Any) -> None:
        """Set the gauge from `consumer` (None: stopped, so every series goes)."""
        current: set[int] = set()
        for tp in consumer.assignment() if consumer is not None else ():
            end, committed = consumer.highwater(tp), self._committed.get(tp.partition)
            lag = max(end - committed, 0) if end is not None and committed is not None else 0
            self._gauge.labels(self._topic, str(tp.partition)).set(lag)
            current.add(tp.partition)
        revoked = self._series - current
        for partition in revoked:
            self._gauge.remove(self._topic, str(partition))
            # If it comes back, its position is known only after its next commit.
            self._committed.pop(partition, None)
        self._series = current
