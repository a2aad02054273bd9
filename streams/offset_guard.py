"""Offset contiguity guard: a jump in a partition's offsets is re-read before it counts as done."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["ContiguityGuard", "Verdict"]

P = TypeVar("P", bound=Hashable)


class Verdict(Enum):
    """What to do with one fetched record."""

    DELIVER = "deliver"  #: the next offset, or an earlier one (the consumer drops repeats)
    REFETCH = "refetch"  #: offsets were skipped: seek back to `ContiguityGuard.expected`, drop this
    STALE = "stale"  #: fetched before that seek: drop it, the re-read brings it again
    CONFIRMED = "confirmed"  #: the re-read skipped the same offsets: a real hole, deliver


@dataclass
class ContiguityGuard(Generic[P]):
    """Per-partition bookkeeping that tells skipped offsets from real holes in a log.

    faust marks every offset between the last record it delivered and a later one as
    done (its "gap" list, meant for transaction markers and compacted records) and
    commits past them. When records are skipped for another reason — faust 0.15.3 drops
    records it has already fetched in several rebalance paths while the client's fetch
    position has moved past them — that commit loses them for good. The guard sits in
    front of that: a record past the next expected offset is not delivered; the consumer
    seeks back to the expected offset instead. If the re-read brings the missing records,
    nothing was lost; if it jumps to the same offset again, the hole is real (markers,
    compaction, retention) and the record is delivered. A real hole costs one re-fetch;
    a re-read that skipped the very same offsets again would be taken for a hole.

    Call `check` for every fetched record in order, `begin_batch` before each fetched
    batch, and `reset` / `forget` whenever the consumer seeks or loses partitions.
    """

    expected: dict[P, int] = field(default_factory=dict)
    _suspect: dict[P, tuple[int, int]] = field(default_factory=dict)
    _refetching: set[P] = field(default_factory=set)

    def begin_batch(self) -> None:
        """A new fetch: records from now on were read after any seek the guard asked for."""
        self._refetching.clear()

    def check(self, partition: P, offset: int) -> Verdict:
        """Judge the record at `offset` of `partition`."""
        expected = self.expected.get(partition)
        if partition in self._refetching:
            return Verdict.STALE
        if expected is None or offset == expected:
            self.expected[partition] = offset + 1
            self._suspect.pop(partition, None)
            return Verdict.DELIVER
        if offset < expected:
            return Verdict.DELIVER
        if self._suspect.get(partition) == (expected, offset):
            del self._suspect[partition]
            self.expected[partition] = offset + 1
            return Verdict.CONFIRMED
        self._suspect[partition] = (expected, offset)
        self._refetching.add(partition)
        return Verdict.REFETCH

    def reset(self, partition: P, next_offset: int | None) -> None:
        """The consumer moved `partition` to `next_offset` (None: position unknown)."""
        self._suspect.pop(partition, None)
        self._refetching.discard(partition)
        if next_offset is None or next_offset < 0:
            self.expected.pop(partition, None)
        else:
            self.expected[partition] = next_offset

    def forget(self, partitions: Iterable[P]) -> None:
        """`partitions` were revoked."""
        for partition in partitions:
            self.reset(partition, None)
