"""Memory expiry: when a stored memory stops mattering, and the sweep that deletes it."""

from __future__ import annotations

import asyncio
import math

import orjson
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
from streams.batches import key_hash
from streams.memory_store import MemoryStore
from streams.sweep import MemorySweep, SweepResult

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


def stored_expiry(value: CustomerMemory | bytes) -> float:
    """What the pipeline's `memory_expires_at` does with both forms a store holds."""
    data = orjson.loads(value) if isinstance(value, bytes) else value.to_dict()
    return expires_at(data, DEDUP, HISTORY)


def store_of(memories: dict[bytes, CustomerMemory], partitions: int = 4) -> MemoryStore:
    store = MemoryStore()
    for key, memory in memories.items():
        # Restored from a changelog, as a worker holds them: nothing dirty yet.
        store.partition(key_hash(key) % partitions).apply(key, orjson.dumps(memory.to_dict()))
    return store


def sweep_of(
    store: MemoryStore, now: float
) -> tuple[dict[int, dict[bytes, bytes | None]], SweepResult]:
    flushed: dict[int, dict[bytes, bytes | None]] = {}

    async def flush() -> None:
        for p, memory in store.partitions().items():
            flushed.setdefault(p, {}).update(memory.take_dirty())

    sweep = MemorySweep(
        store.partitions,
        flush=flush,
        expires_at=stored_expiry,
        clock=lambda: now,
        slice_size=7,
    )
    return flushed, asyncio.run(sweep.sweep())


def test_the_sweep_deletes_expired_memories_and_changelogs_tombstones() -> None:
    old, recent = memory_of([T0]), memory_of([T0 + 40 * DAY])
    keys = [f"email:{i:04x}".encode() for i in range(60)]
    store = store_of({k: (old if i % 2 else recent) for i, k in enumerate(keys)})
    flushed, result = sweep_of(store, now=T0 + 45 * DAY)
    expected = {k for i, k in enumerate(keys) if i % 2}
    tombstones = {k: p for p, records in flushed.items() for k, v in records.items() if v is None}
    assert set(tombstones) == expected
    assert all(p == key_hash(k) % 4 for k, p in tombstones.items())  # each on its own partition
    assert all(v is None for records in flushed.values() for v in records.values())
    assert result.expired == len(expected)
    assert result.held == 60 - len(expected) == len(store)
    # The memories it kept were not decoded to be looked at.
    assert all(isinstance(m.stored(k), bytes) for m in store.partitions().values() for k in m)
    # Nothing expired yet: nothing deleted, nothing flushed.
    flushed, result = sweep_of(store, now=T0 + 29 * DAY)
    assert flushed == {} and result.expired == 0


def test_a_memory_written_again_after_the_sweep_is_changelogged_not_tombstoned() -> None:
    key = b"phone:0001"
    store = store_of({key: memory_of([T0])})
    memory = store.partition(key_hash(key) % 4)
    assert asyncio.run(
        MemorySweep(
            store.partitions,
            flush=lambda: asyncio.sleep(0),  # the flush comes later, after a new contact
            expires_at=stored_expiry,
            clock=lambda: T0 + 45 * DAY,
        ).sweep()
    ) == SweepResult(held=0, expired=1)
    memory[key] = memory_of([T0 + 45 * DAY])  # the customer writes again before the flush
    value = memory.take_dirty()[key]
    assert value is not None and CustomerMemory.from_dict(orjson.loads(value)).recent


def test_the_pipeline_reads_the_expiry_of_a_memory_still_in_its_changelog_form() -> None:
    from pathlib import Path

    from routing.config import load_config
    from streams.ingest import Normalizer
    from streams.pipeline import Pipeline
    from streams.settings import Settings
    from streams.topics import TopicNames
    from tests.unit.conftest import NOW

    config = load_config(Path(__file__).resolve().parents[2] / "config" / "open.yaml")
    pipeline = Pipeline(
        TopicNames.from_settings(Settings()),
        Normalizer(lambda: NOW),
        lambda: NOW,
        config=lambda: config,
        native_memory=True,
    )
    m = memory_of([T0, T0 + DAY])
    as_stored = orjson.dumps(m.to_dict())
    assert pipeline.memory_expires_at(as_stored) == pipeline.memory_expires_at(m) > T0
    assert pipeline.memory_expires_at(b"{garbage") == -math.inf
