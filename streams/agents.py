"""Thin faust agents: take a batch, call the pure pipeline, produce its records, then ack."""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import Any, cast

import faust
from faust.streams import (
    Stream,
    _current_event,  # see _StagedMemory.commit for why
)
from faust.types import EventT, StreamT

from routing.waves import StateChange, WaveDetector
from streams.batches import retry_until_acknowledged, send_batched
from streams.codecs import dumps, loads
from streams.ingest import Source
from streams.load import CHECKPOINT_KEY, TickAggregator, TickCounter
from streams.metrics import Metrics
from streams.normalize_stage import bug_record
from streams.pipeline import Pipeline, Record

__all__ = ["install_agents", "install_load"]

log = logging.getLogger(__name__)


async def _produce(app: faust.App, records: Sequence[Record]) -> None:
    """Send records and wait until the broker has them all, retrying until it does.

    Used where ordering matters more than speed (the load-state snapshots).
    """
    if not records:
        return

    async def send() -> list[Awaitable[Any]]:
        return [await _send(app, r) for r in records]

    await retry_until_acknowledged(send, f"producing {len(records)} records")


async def _send(app: faust.App, r: Record) -> Awaitable[Any]:
    return await app.producer.send(r.topic, r.key, r.value, None, None, None)


class _Outbox:
    """Sends a batch's records without waiting for them; confirms the batch one batch later.

    The records go out as one aiokafka batch per topic partition (`send_batched`), not one
    `producer.send` and future per record.

    Waiting for every batch's acknowledgement before taking the next one would leave the
    CPU idle for a broker round trip per batch. Safety does not need it: faust flushes
    the producer before it commits offsets, so outputs are on the broker before their
    inputs count as done. A batch whose sends failed is sent again before the next batch
    goes out, and `on_durable` (which updates the customer memory) runs only once a
    batch's records are acknowledged.
    """

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._pending: tuple[Sequence[Record], asyncio.Future[Any], Callable[[], None]] | None = (
            None
        )

    async def send(self, records: Sequence[Record], on_durable: Callable[[], None]) -> None:
        """Queue `records`; `on_durable` runs once the broker has acknowledged all of them."""
        await self.settle()
        producer = self._app.producer
        futures = await send_batched(
            # faust's aiokafka producer itself: faust flushes it before committing offsets.
            producer._ensure_producer(),  # type: ignore[attr-defined]  # not on ProducerT
            lambda topic, key: producer.key_partition(topic, key).partition,  # type: ignore[arg-type]  # a None key may go anywhere
            records,
        )
        done = asyncio.gather(*futures)

        def confirmed(fut: asyncio.Future[Any]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                on_durable()

        done.add_done_callback(confirmed)
        self._pending = (records, done, on_durable)

    async def settle(self) -> None:
        """Wait for the previous batch; send it again (and wait) if it failed."""
        if self._pending is None:
            return
        records, done, on_durable = self._pending
        self._pending = None
        try:
            await done
        except Exception as exc:
            log.warning(
                "a batch of %d records failed (%s); sending it again",
                len(records),
                type(exc).__name__,
            )
            await _produce(self._app, records)
            on_durable()


def _batches(
    stream: StreamT[Any], size: int, within: float
) -> AsyncIterator[Sequence[EventT[Any]]]:
    # take_events exists on faust's Stream class but is missing from its StreamT protocol.
    return cast(Stream[Any], stream).take_events(size, within=within)


def _source(event: EventT[Any]) -> Source:
    msg = event.message
    return Source(topic=msg.topic, partition=msg.partition, offset=msg.offset)


class _PendingMemory(MutableMapping[Any, Any]):
    """The customer-memory table plus writes whose decisions are not yet on the broker.

    A write reaches the table (and its changelog) only once the decisions of its batch
    are acknowledged. Writing first would let a crash between the two lose a contact: on
    restart the memory would say "already routed" for a contact whose decision was never
    produced. Until then the write is served from here, so the next batch already sees it.
    """

    def __init__(self, table: MutableMapping[Any, Any]) -> None:
        self._table = table
        self._pending: dict[Any, tuple[Any, EventT[Any] | None, int]] = {}
        self.batch = 0
        self.current: EventT[Any] | None = None

    def __getitem__(self, key: Any) -> Any:
        entry = self._pending.get(key)
        return entry[0] if entry is not None else self._table[key]

    def get(self, key: Any, default: Any = None) -> Any:
        entry = self._pending.get(key)
        return entry[0] if entry is not None else self._table.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._pending[key] = (value, self.current, self.batch)

    def __delitem__(self, key: Any) -> None:
        raise NotImplementedError("customer memory entries expire; they are never deleted")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._pending)

    def __len__(self) -> int:
        return len(self._pending)

    def settle(self, batch: int) -> None:
        """Write the entries staged by `batch` (and not overwritten since) to the table."""
        done = [(k, v, ev) for k, (v, ev, b) in self._pending.items() if b == batch]
        for key, value, event in done:
            # A faust table writes its changelog to the partition of the *current* event,
            # which inside `take_events` is the last event buffered, not the one that
            # changed the key. Setting it per key keeps the changelog co-partitioned.
            token = _current_event.set(weakref.ref(event)) if event is not None else None
            try:
                self._table[key] = value
            finally:
                if token is not None:
                    _current_event.reset(token)
            del self._pending[key]


def _guarded(pipeline: Pipeline, event: EventT[Any], memory: Any) -> list[Record]:
    """Route one contact; a bug becomes an `internal_error` dead letter, not a lost batch.

    `take_events` acknowledges a batch even when its body raises, so an exception here
    would silently drop every contact of the batch.
    """
    value = event.message.value
    source = _source(event)
    try:
        return pipeline.route(value, source, memory)
    except Exception as exc:
        return [bug_record(pipeline, "route", value, source, exc)]


def install_agents(
    app: faust.App,
    pipeline: Pipeline,
    metrics: Metrics,
    *,
    normalized_topic: faust.TopicT,
    memory: MutableMapping[Any, Any],
    batch_size: int,
    batch_within: float,
    before_routing: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Register the route agent on `app` (normalize runs on `NormalizeStage`, not on faust)."""

    @app.agent(normalized_topic, name="wavebreak.route")
    async def route(stream: StreamT[Any]) -> None:
        if before_routing is not None:
            await before_routing()
        outbox = _Outbox(app)
        pending = _PendingMemory(memory)
        async for events in _batches(stream, batch_size, within=batch_within):
            metrics.batch_size.labels("route").observe(len(events))
            pending.batch += 1
            records: list[Record] = []
            for ev in events:
                pending.current = ev
                records.extend(_guarded(pipeline, ev, pending))
            pending.current = None
            batch = pending.batch
            await outbox.send(records, functools.partial(pending.settle, batch))


def install_load(
    app: faust.App,
    *,
    ticks_topic: faust.TopicT,
    load_state_topic: str,
    counter: TickCounter,
    aggregator: TickAggregator,
    detector_factory: Callable[[Mapping[str, Any] | None], WaveDetector],
    load_table: Mapping[Any, Any],
    on_changes: Callable[[list[StateChange]], None],
    worker_id: str,
    clock: Callable[[], float],
    checkpoint_every: float = 10.0,
) -> Callable[[], None]:
    """Register the tick emitter (every worker) and the wave aggregator (one worker).

    Returns a function to call when partitions are revoked: the aggregation may move to
    another worker, and if it comes back it must resume from the newest checkpoint.

    Every worker sends its per-second counts to the single-partition ticks topic each
    second, even when empty, so the aggregator's agent wakes up every second. The worker
    that owns that partition runs the detector and publishes each channel's load to the
    load-state topic, which every worker reads as a GlobalTable.
    """
    state: dict[str, Any] = {"detector": None, "checkpointed": 0.0}

    @app.timer(1.0, name="wavebreak.load.emit")
    async def emit_ticks() -> None:
        seconds = counter.drain(before=clock())
        value = dumps({"worker": worker_id, "seconds": {str(s): c for s, c in seconds.items()}})
        await app.producer.send(ticks_topic.get_topic_name(), b"tick", value, None, None, None)

    @app.agent(ticks_topic, name="wavebreak.load.aggregate")
    async def aggregate(stream: StreamT[Any]) -> None:
        async for events in _batches(stream, 100, within=0.5):
            for ev in events:
                try:
                    tick = loads(ev.message.value or b"{}")
                    aggregator.add(tick.get("seconds", {}))
                except (ValueError, TypeError, AttributeError):
                    log.warning("ignoring a malformed load tick at offset %s", ev.message.offset)
            due = aggregator.due(clock())
            if not due:
                continue
            detector = state["detector"]
            if detector is None:
                # First tick since this worker took over: resume from the last checkpoint.
                detector = state["detector"] = detector_factory(
                    load_table.get(CHECKPOINT_KEY.encode())
                )
            changes: list[StateChange] = []
            for second, counts in due:
                changes.extend(detector.tick(float(second), counts))
            snapshot = detector.snapshot()
            records = [
                Record(load_state_topic, name.encode(), dumps(load.to_dict()))
                for name, load in snapshot.channels.items()
            ]
            now = clock()
            if now - state["checkpointed"] >= checkpoint_every:
                records.append(
                    Record(load_state_topic, CHECKPOINT_KEY.encode(), dumps(detector.checkpoint()))
                )
                state["checkpointed"] = now
            await _produce(app, records)
            if changes:
                on_changes(changes)

    def reset() -> None:
        state["detector"] = None
        aggregator.reset()

    return reset
