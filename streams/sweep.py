"""Customer-memory sweep: entries nobody will read again are deleted, with changelog tombstones."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from aiokafka.partitioner import murmur2

__all__ = ["MemorySweep", "SweepResult", "key_partition"]

log = logging.getLogger(__name__)


def key_partition(key: bytes, partitions: int) -> int:
    """The partition the producer's default partitioner (murmur2, as Kafka's) gives `key`.

    The normalize stage sends contacts keyed by customer without a partition, so this is
    where a customer's contacts, and the changelog of their memory, live.
    """
    return (int(murmur2(key)) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one sweep saw: entries held (active and standby partitions) and deleted."""

    held: int
    expired: int


class MemorySweep:
    """Deletes expired customer memories of the partitions this worker owns.

    A memory is pruned when its customer writes again; a customer who never comes back
    would stay in the table (and in RAM, with faust's memory store) forever. The sweep
    walks the store in slices, yielding to the event loop between them, asks
    `expires_at` (cheap: it reads the stored form) and deletes what expired before
    `clock()`: from the store and, with a tombstone, from the changelog, so a recovering
    worker or a standby does not bring it back. Only keys of partitions the worker owns
    are deleted; standby copies go with the owner's tombstone.

    A contact of that customer being routed at the same time is safe: its new memory is
    written after the sweep's delete (in the table and in the changelog), so it wins.

    Args:
        store: Returns the table's store (faust `table.data`, created when first used):
            read and deleted from directly, so no faust changelog hook runs.
        tombstone: Sends a tombstone for (key, partition) to the changelog.
        owned: The partitions this worker is active for right now.
        partitions: The partition count of the table (and the contacts topic).
        expires_at: When a stored value stops mattering (epoch seconds).
        clock: Now, in epoch seconds.
        slice_size: Entries looked at between two yields to the event loop.
    """

    def __init__(
        self,
        store: Callable[[], MutableMapping[Any, Any]],
        *,
        tombstone: Callable[[bytes, int], Any],
        owned: Callable[[], Collection[int]],
        partitions: int,
        expires_at: Callable[[Any], float],
        clock: Callable[[], float],
        slice_size: int = 5_000,
    ) -> None:
        self._store = store
        self._tombstone = tombstone
        self._owned = owned
        self._partitions = partitions
        self._expires_at = expires_at
        self._clock = clock
        self._slice = slice_size

    async def sweep(self) -> SweepResult:
        """One pass over the store."""
        now = self._clock()
        store = self._store()
        keys = list(store.keys())
        expired = 0
        for start in range(0, len(keys), self._slice):
            expired += self._sweep_slice(store, keys[start : start + self._slice], now)
            await asyncio.sleep(0)  # the agents and the web views keep running
        return SweepResult(held=len(store), expired=expired)

    def _sweep_slice(self, store: MutableMapping[Any, Any], keys: Iterable[Any], now: float) -> int:
        owned = self._owned()
        expires_at = self._expires_at
        expired = 0
        for key in keys:
            value = store.get(key)
            if value is None or expires_at(value) > now or not isinstance(key, bytes):
                continue
            partition = key_partition(key, self._partitions)
            if partition not in owned:
                continue  # a standby copy: the owner deletes it
            del store[key]
            self._tombstone(key, partition)
            expired += 1
        return expired
