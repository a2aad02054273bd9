"""Distributed wave detection plumbing (pure): per-worker tick counts, aggregation, the view."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from routing.waves import ChannelLoad, LoadState

__all__ = ["CHECKPOINT_KEY", "Cached", "TickAggregator", "TickCounter", "load_state"]

# The detector checkpoint rides on the load-state topic under this key, so whichever worker
# takes over the aggregation finds the learned baselines in its own replica of the topic.
CHECKPOINT_KEY = "__detector_checkpoint__"
T = TypeVar("T")


class TickCounter:
    """Counts this worker's routed contacts per (second, channel): total and negative."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[int, dict[str, list[int]]] = defaultdict(dict)

    def record(self, at: float, channel: str, negative: bool) -> None:
        """Count one contact received at epoch second `at`."""
        cell = self._counts[int(at)].setdefault(channel, [0, 0])
        cell[0] += 1
        if negative:
            cell[1] += 1

    def drain(self, before: float) -> dict[int, dict[str, list[int]]]:
        """Remove and return the counts of every second that ended before `before`."""
        limit = int(before)
        done = {s: c for s, c in self._counts.items() if s < limit}
        for s in done:
            del self._counts[s]
        return done


class TickAggregator:
    """Sums the ticks of all workers per second and releases a second once it is complete.

    Workers report a second shortly after it ends; a second is released `grace` seconds
    after its end, in order. A tick that arrives for a second already released (a worker
    that was paused) is added to the next second still open, so counts are never lost,
    only shifted by a little.
    """

    __slots__ = ("_grace", "_open", "_released", "late")

    def __init__(self, grace: float = 2.0) -> None:
        self._grace = grace
        self._open: dict[int, dict[str, list[int]]] = {}
        self._released: int | None = None
        self.late = 0

    def reset(self) -> None:
        """Forget everything (the aggregation moved to another worker)."""
        self._open.clear()
        self._released = None

    def add(self, seconds: Mapping[int | str, Mapping[str, Iterable[int]]]) -> None:
        """Add one worker's tick: {second: {channel: [count, negative]}}."""
        for sec_key, counts in seconds.items():
            sec = int(sec_key)
            if self._released is not None and sec <= self._released:
                self.late += 1
                sec = self._released + 1
            bucket = self._open.setdefault(sec, {})
            for channel, (n, neg) in ((c, tuple(v)) for c, v in counts.items()):
                cell = bucket.setdefault(channel, [0, 0])
                cell[0] += int(n)
                cell[1] += int(neg)

    def due(self, now: float) -> list[tuple[int, dict[str, tuple[int, int]]]]:
        """Release every second that ended at least `grace` seconds before `now`, in order.

        Seconds without any tick in between are released as empty, so the detector sees
        silence as zeros rather than as a gap.
        """
        limit = int(now - self._grace)  # seconds s with s + 1 <= now - grace
        if self._released is None:
            if not self._open:
                return []
            first = min(self._open)
        else:
            first = self._released + 1
        out: list[tuple[int, dict[str, tuple[int, int]]]] = []
        for sec in range(first, limit):
            bucket = self._open.pop(sec, {})
            out.append((sec, {c: (v[0], v[1]) for c, v in bucket.items()}))
            self._released = sec
        return out


def load_state(entries: Mapping[Any, Any]) -> LoadState:
    """Build a LoadState from load-state records, skipping the checkpoint and bad records."""
    channels: dict[str, ChannelLoad] = {}
    for key, value in entries.items():
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == CHECKPOINT_KEY or not isinstance(value, Mapping):
            continue
        try:
            channels[name] = ChannelLoad.from_dict(value)
        except (KeyError, TypeError, ValueError):
            continue  # a record from an incompatible version: ignore it, keep routing
    at = max((c.at for c in channels.values()), default=0.0)
    return LoadState(at=at, channels=channels)


class Cached(Generic[T]):
    """Calls `build` at most every `max_age` seconds and returns the last result in between."""

    __slots__ = ("_build", "_built_at", "_clock", "_max_age", "_value")

    def __init__(
        self,
        build: Callable[[], T],
        *,
        max_age: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._build = build
        self._max_age = max_age
        self._clock = clock
        self._value: T | None = None
        self._built_at = -1e18

    def __call__(self) -> T:
        """The cached value, rebuilt when older than `max_age`."""
        now = self._clock()
        if self._value is None or now - self._built_at >= self._max_age:
            self._value = self._build()
            self._built_at = now
        return self._value
