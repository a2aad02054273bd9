"""Thin faust agents: take a batch, call the pure pipeline, produce its records, then ack."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import faust
from faust.streams import _current_event  # see _StagedMemory.commit for why
from faust.types import EventT, StreamT

from streams.ingest import Source
from streams.metrics import Metrics
from streams.pipeline import Pipeline, Record

__all__ = ["install_agents"]

log = logging.getLogger(__name__)


async def _produce(app: faust.App, records: Sequence[Record]) -> None:
    """Send records through faust's producer and wait until the broker has them all.

    Waiting before the batch is acknowledged is what makes the pipeline at-least-once:
    offsets are committed only for events whose outputs are durable.
    """
    if not records:
        return
    send = app.producer.send
    delay = 0.1
    while True:
        try:
            futures = [await send(r.topic, r.key, r.value, None, None, None) for r in records]
            await asyncio.gather(*futures)
            return
        except Exception as exc:  # broker unreachable, leader moved, request timed out
            # Block instead of acknowledging: the batch is acked (and its offsets become
            # committable) as soon as this function returns or raises.
            log.warning(
                "producing %d records failed (%s); retrying in %.1fs",
                len(records),
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _source(event: EventT) -> Source:
    msg = event.message
    return Source(topic=msg.topic, partition=msg.partition, offset=msg.offset)


class _StagedMemory(MutableMapping[Any, Any]):
    """Batch-local view of the customer-memory table: reads fall through, writes are staged.

    Writes reach the table (and its changelog) only after the batch's decisions are on the
    broker. Writing first would let a crash between the two lose a contact: on restart the
    memory would say "already routed" for a contact whose decision was never produced.
    """

    def __init__(self, table: MutableMapping[Any, Any]) -> None:
        self._table = table
        self._staged: dict[Any, Any] = {}
        self._event_of: dict[Any, EventT] = {}
        self.current: EventT | None = None

    def __getitem__(self, key: Any) -> Any:
        if key in self._staged:
            return self._staged[key]
        return self._table[key]

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self._staged:
            return self._staged[key]
        return self._table.get(key, default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._staged[key] = value
        if self.current is not None:
            self._event_of[key] = self.current

    def __delitem__(self, key: Any) -> None:
        raise NotImplementedError("customer memory entries expire; they are never deleted")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._staged)

    def __len__(self) -> int:
        return len(self._staged)

    def commit(self) -> None:
        # A faust table writes its changelog to the partition of the *current* event, which
        # inside `take_events` is the last event buffered, not the one that changed the key.
        # Setting the context per key keeps the changelog co-partitioned with its source.
        for key, value in self._staged.items():
            event = self._event_of.get(key)
            token = _current_event.set(weakref.ref(event)) if event is not None else None
            try:
                self._table[key] = value
            finally:
                if token is not None:
                    _current_event.reset(token)
        self._staged.clear()
        self._event_of.clear()


def install_agents(
    app: faust.App,
    pipeline: Pipeline,
    metrics: Metrics,
    *,
    raw_topic: faust.TopicT,
    normalized_topic: faust.TopicT,
    memory: MutableMapping[Any, Any],
    batch_size: int,
    batch_within: float,
) -> None:
    """Register the normalize and route agents on `app`."""

    @app.agent(raw_topic, name="wavebreak.normalize")
    async def normalize(stream: StreamT[bytes]) -> None:
        async for events in stream.take_events(batch_size, within=batch_within):
            metrics.batch_size.labels("normalize").observe(len(events))
            records = [pipeline.normalize(ev.message.value, _source(ev)) for ev in events]
            await _produce(app, records)

    @app.agent(normalized_topic, name="wavebreak.route")
    async def route(stream: StreamT[bytes]) -> None:
        async for events in stream.take_events(batch_size, within=batch_within):
            metrics.batch_size.labels("route").observe(len(events))
            staged = _StagedMemory(memory)
            records: list[Record] = []
            for ev in events:
                staged.current = ev
                records.extend(pipeline.route(ev.message.value, _source(ev), staged))
            await _produce(app, records)
            staged.commit()
