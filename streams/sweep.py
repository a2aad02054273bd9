"""Customer-memory sweep: entries nobody will read again are deleted, with changelog tombstones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streams.memory_store import PartitionMemory

__all__ = ["MemorySweep", "SweepResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep saw: entries held (the partitions this worker routes) and deleted."""

    held: int
    expired: int


class MemorySweep:
    """Deletes expired customer memories of the partitions this worker routes.

    A memory is pruned when its customer writes again; a customer who never comes back
    would stay in the store (and in RAM) forever. The sweep walks each partition's store
    in slices, yielding to the event loop between them, asks `expires_at` (cheap: no
    decoding) and deletes what expired before `clock()`. Then `flush()` changelogs the
    deletions as tombstones, so a worker that takes the partition over does not bring
    them back.

    A contact of that customer routed at the same time is safe: the route stage
    changelogs the latest value of every key written or deleted (deleted: a tombstone),
    under the same lock as its batches, so a memory written after the delete wins.

    Args:
        stores: Returns partition -> that partition's store (`MemoryStore.partitions`).
        flush: Changelogs the stores' deletions (`RouteStage.flush_changelog`).
        expires_at: When a stored value (a `CustomerMemory` or its changelog bytes)
            stops mattering, in epoch seconds.
        clock: Now, in epoch seconds.
        slice_size: Entries looked at between two yields to the event loop.
    """

    def __init__(
        self,
        stores: Callable[[], Mapping[int, PartitionMemory]],
        *,
        flush: Callable[[], Awaitable[Any]],
        expires_at: Callable[[Any], float],
        clock: Callable[[], float],
        slice_size: int = 5_000,
    ) -> None:
        self._stores = stores
        self._flush = flush
        self._expires_at = expires_at
        self._clock = clock
        self._slice = slice_size

    async def sweep(self) -> SweepResult:
        """One pass over every partition's store."""
        now = self._clock()
        expired = 0
        for partition, store in list(self._stores().items()):
            keys = list(store.keys())
            for start in range(0, len(keys), self._slice):
                if self._stores().get(partition) is not store:
                    break  # revoked meanwhile: its new owner sweeps it
                expired += self._sweep_slice(store, keys[start : start + self._slice], now)
                await asyncio.sleep(0)  # the stages and the web views keep running
        if expired:
            await self._flush()
        return SweepResult(held=sum(len(s) for s in self._stores().values()), expired=expired)

    def _sweep_slice(self, store: PartitionMemory, keys: Iterable[bytes], now: float) -> int:
        expires_at = self._expires_at
        expired = 0
        for key in keys:
            value = store.stored(key)  # not decoded: most are never read again
            if value is None or expires_at(value) > now:
                continue
            del store[key]
            expired += 1
        return expired
