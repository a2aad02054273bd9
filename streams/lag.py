"""Consumer lag of a lean stage's partitions: highwater - last commit, as a Prometheus gauge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LagGauge"]


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
