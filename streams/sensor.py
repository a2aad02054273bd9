"""faust's Monitor extended to record consumer lag and commit latency into our metrics."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from faust.sensors.monitor import Monitor
from faust.types import TP

from streams.metrics import Metrics

__all__ = ["LagMonitor"]


class LagMonitor(Monitor):
    """The app's monitor (`app.monitor = LagMonitor(metrics)`), with lag and commit latency.

    faust calls `track_tp_end_offset` (per fetched record) and `on_tp_commit` only on
    `app.monitor`, not on added sensors, so this is a `Monitor` subclass rather than a
    plain `Sensor`: it keeps faust's offset bookkeeping and adds nothing per message.
    `refresh()` turns that bookkeeping into the `wavebreak_consumer_lag` gauge (called
    once a second, and after each commit); commit latency is observed per commit.

    faust's own `PrometheusMonitor` exports end and committed offsets too, but it adds
    about 45 us of prometheus-client calls per contact on the hot path (measured), names
    its latencies in milliseconds and clears its series on every rebalance.
    """

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metrics = metrics
        self._labelled: set[tuple[str, str]] = set()
        self._assigned: frozenset[TP] = frozenset()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        """Observe the commit's duration (faust passes what `on_commit_initiated` returned)."""
        super().on_commit_completed(consumer, state)
        self._metrics.commit_latency.observe(max(self.time() - cast(float, state), 0.0))
        self.refresh()

    def lag(self, tp: TP) -> int | None:
        """Records of `tp` behind the highwater mark, or None while its end is unknown.

        The position is the committed offset (the next offset to read), or the last
        read offset + 1 before the first commit. The highwater mark is the one the
        fetcher saw with the last records of `tp`: a partition that had no records since
        this worker took it reports no lag.
        """
        end = self.tp_end_offsets.get(tp)
        if end is None:
            return None
        position = self.tp_committed_offsets.get(tp)
        if position is None:
            read = self.tp_read_offsets.get(tp)
            position = read + 1 if read is not None else None
        if position is None:
            return None
        return max(int(end) - int(position), 0)

    def refresh(self, assigned: Iterable[TP] | None = None) -> None:
        """Set the lag gauge for the assigned partitions; drop series of revoked ones.

        Args:
            assigned: The consumer's current assignment; None keeps the last one given.
        """
        if assigned is not None:
            self._assigned = frozenset(assigned)
        current: set[tuple[str, str]] = set()
        for tp in self._assigned:
            key = (tp.topic, str(tp.partition))
            lag = self.lag(tp)
            self._metrics.consumer_lag.labels(*key).set(lag or 0)
            current.add(key)
        for key in self._labelled - current:
            self._metrics.consumer_lag.remove(*key)
        self._labelled = current
