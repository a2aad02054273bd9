"""Memory expiry: when a stored memory stops mattering, and the sweep that deletes it."""

from __future__ import annotations

import asyncio
import math

import orjson
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from routing.memory import (
    CustomerMemory,
    DedupSettings,
    HistoryEntry,
    HistorySettings,
    expires_at,
    observe,
    remember,
    summarize,
)
from streams.sweep import MemorySweep, SweepResult, key_partition

DAY = 86400.0
T0 = 1_800_000_000.0
DEDUP = DedupSettings(window_seconds=DAY, max_per_customer=50)
HISTORY = HistorySettings(history_seconds=30 * DAY, max_contacts=5)


def memory_of(times: list[float]) -> CustomerMemory:
    m = CustomerMemory()
    for i, at in enumerate(times):
        m, _ = observe(m, f"c{i}", at, DEDUP)
        m = remember(m, HistoryEntry(f"c{i}", "chat", at, -0.5, False), HISTORY)
    return m


def test_a_memory_expires_when_its_newest_contact_leaves_the_history() -> None:
    m = memory_of([T0, T0 + 5 * DAY])
    assert expires_at(m.to_dict(), DEDUP, HISTORY) == T0 + 35 * DAY
    # The stored form after a changelog round trip (a plain dict) gives the same answer.
    assert expires_at(orjson.loads(orjson.dumps(m.to_dict())), DEDUP, HISTORY) == T0 + 35 * DAY


def test_a_dedup_window_longer_than_the_history_keeps_the_memory() -> None:
    long_dedup = DedupSettings(window_seconds=60 * DAY)
    assert expires_at(memory_of([T0]).to_dict(), long_dedup, HISTORY) == T0 + 60 * DAY


def test_empty_and_unreadable_memories() -> None:
    assert expires_at(None, DEDUP, HISTORY) == -math.inf  # nothing to keep
    assert expires_at({}, DEDUP, HISTORY) == -math.inf
    assert expires_at({"seen": {"a": T0}}, DEDUP, HISTORY) == T0 + DAY  # written before history
    for garbage in ({"recent": [["c1"]]}, {"seen": {"a": "soon"}}, {"rolling": 5}):
        assert expires_at(garbage, DEDUP, HISTORY) == math.inf  # never deleted on a guess


@given(
    gaps=st.lists(st.floats(0, 40 * DAY), min_size=1, max_size=12),
    after=st.floats(1.0, 10 * DAY),
)
def test_after_expiry_the_memory_tells_a_new_contact_nothing(
    gaps: list[float], after: float
) -> None:
    """Deleting an expired memory changes nothing routing can see, except rolling sentiment."""
    times = [T0 + sum(gaps[: i + 1]) for i in range(len(gaps))]
    stored = memory_of(times)
    now = expires_at(stored.to_dict(), DEDUP, HISTORY) + after
    for i in range(len(times)):  # a redelivery of any old contact is no longer a duplicate
        assert observe(stored, f"c{i}", now, DEDUP)[1] is False
    new = HistoryEntry("new", "voice", now, 0.0, False)
    kept, _ = observe(stored, "new", now, DEDUP)
    kept = remember(kept, new, HISTORY)
    fresh = remember(observe(CustomerMemory(), "new", now, DEDUP)[0], new, HISTORY)
    assert kept.recent == fresh.recent and dict(kept.seen) == dict(fresh.seen)
    assert summarize(kept, "new", now).earlier == ()


def test_key_partition_is_the_producers_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for i in range(200):
        key = f"phone:{i:08x}".encode()
        for n in (1, 2, 4, 12):
            assert key_partition(key, n) == partitioner(key, list(range(n)), [])


def sweep_of(
    store: dict[bytes, object], owned: set[int], now: float
) -> tuple[list[tuple[bytes, int]], SweepResult]:
    tombstones: list[tuple[bytes, int]] = []
    sweep = MemorySweep(
        lambda: store,
        tombstone=lambda key, partition: tombstones.append((key, partition)),
        owned=lambda: owned,
        partitions=4,
        expires_at=lambda value: expires_at(value, DEDUP, HISTORY),  # type: ignore[arg-type]
        clock=lambda: now,
        slice_size=7,
    )
    return tombstones, asyncio.run(sweep.sweep())


def test_the_sweep_deletes_expired_memories_of_owned_partitions_only() -> None:
    old, recent = memory_of([T0]).to_dict(), memory_of([T0 + 40 * DAY]).to_dict()
    keys = [f"email:{i:04x}".encode() for i in range(60)]
    store: dict[bytes, object] = {k: (old if i % 2 else recent) for i, k in enumerate(keys)}
    store[b"email:garbage"] = {"recent": [["x"]]}
    owned = {0, 2, 3}
    tombstones, result = sweep_of(store, owned, now=T0 + 45 * DAY)
    expected = [k for i, k in enumerate(keys) if i % 2 and key_partition(k, 4) in owned]
    assert sorted(k for k, _ in tombstones) == sorted(expected)
    assert all(p == key_partition(k, 4) for k, p in tombstones)
    assert result.expired == len(expected)
    assert result.held == 61 - len(expected)
    assert set(store) == set(keys) - set(expected) | {b"email:garbage"}
    # Nothing expired yet: nothing deleted.
    tombstones, result = sweep_of(store, {0, 1, 2, 3}, now=T0 + 29 * DAY)
    assert tombstones == [] and result.expired == 0
