"""The customer-memory store of the route stage: per partition in RAM, backed by a changelog."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import orjson

from routing.memory import CustomerMemory

__all__ = ["MemoryStore", "PartitionMemory"]

log = logging.getLogger(__name__)


class PartitionMemory(MutableMapping[bytes, CustomerMemory]):
    """One partition's memories, customer key -> `CustomerMemory`; writes are remembered.

    The route step reads and writes it like a dict; every key written since the last
    `take_dirty()` is changelogged once per batch (the latest value), not once per write.

    A restored memory is kept as its changelog bytes until it is first read: a takeover
    then costs a dict insert per customer, and most customers of a partition do not
    write again before their memory expires.
    """

    __slots__ = ("_data", "_dirty", "partition")

    def __init__(self, partition: int) -> None:
        self.partition = partition
        self._data: dict[bytes, CustomerMemory | bytes] = {}
        self._dirty: set[bytes] = set()

    def get(self, key: bytes, default: Any = None) -> Any:  # the hot path: no __getitem__
        """The memory of `key`, or `default`."""
        value = self._data.get(key)
        if value is None:
            return default
        if value.__class__ is bytes:
            return self._decode(key, value) or default
        return value

    def stored(self, key: bytes) -> CustomerMemory | bytes | None:
        """The memory of `key` as held: decoded, or still its changelog bytes (the sweep)."""
        return self._data.get(key)

    def __getitem__(self, key: bytes) -> CustomerMemory:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def _decode(self, key: bytes, value: bytes) -> CustomerMemory | None:
        try:
            memory = CustomerMemory.from_dict(orjson.loads(value))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # One unreadable record must not fail that customer's contacts: they are
            # routed as a new customer's, and the next write replaces it.
            log.warning("customer memory unreadable, starting afresh (%s)", type(exc).__name__)
            del self._data[key]
            return None
        self._data[key] = memory
        return memory

    def __setitem__(self, key: bytes, value: CustomerMemory) -> None:
        self._data[key] = value
        self._dirty.add(key)

    def __delitem__(self, key: bytes) -> None:
        del self._data[key]
        self._dirty.add(key)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def take_dirty(self) -> dict[bytes, bytes | None]:
        """Changelog values of the keys written since the last call (None: deleted)."""
        data = self._data
        out: dict[bytes, bytes | None] = {}
        for key in self._dirty:
            memory = data.get(key)
            if memory is None or memory.__class__ is bytes:
                out[key] = memory  # deleted, or never decoded
            else:
                out[key] = orjson.dumps(memory.to_dict())  # type: ignore[union-attr]
        self._dirty.clear()
        return out

    def apply(self, key: bytes, value: bytes | None) -> None:
        """Apply one changelog record (restore): a value replaces, None (a tombstone) deletes."""
        if value is None:
            self._data.pop(key, None)
            return
        self._data[key] = value  # decoded when first read


class MemoryStore:
    """The memories of the partitions this worker routes: partition -> `PartitionMemory`.

    Partition p of the store is partition p of contacts.normalized (keyed by customer)
    and of the changelog topic, so a partition moves between workers as one unit: the
    new owner rebuilds it from the changelog before routing its contacts.
    """

    def __init__(self) -> None:
        self._partitions: dict[int, PartitionMemory] = {}

    def partition(self, partition: int) -> PartitionMemory:
        """The memories of `partition` (empty if it was never restored or written)."""
        memory = self._partitions.get(partition)
        if memory is None:
            memory = self._partitions[partition] = PartitionMemory(partition)
        return memory

    def install(self, memory: PartitionMemory) -> None:
        """Hold `memory` (a restored partition), replacing what was held for its partition."""
        self._partitions[memory.partition] = memory

    def drop(self, partition: int) -> None:
        """Forget `partition` (revoked: another worker owns it now)."""
        self._partitions.pop(partition, None)

    def partitions(self) -> Mapping[int, PartitionMemory]:
        """Partition -> its memories, for the sweep and the gauges."""
        return self._partitions

    def __len__(self) -> int:
        return sum(len(p) for p in self._partitions.values())
