"""Thin faust agents of the control plane: load ticks in, the wave detector, load state out."""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT, StreamT

from routing.waves import StateChange, WaveDetector
from streams.batches import retry_until_acknowledged
from streams.codecs import dumps, loads
from streams.load import CHECKPOINT_KEY, TickAggregator, TickCounter
from streams.pipeline import Record

__all__ = ["install_load"]

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


def _batches(
    stream: StreamT[Any], size: int, within: float
) -> AsyncIterator[Sequence[EventT[Any]]]:
    # take_events exists on faust's Stream class but is missing from its StreamT protocol.
    return cast(Stream[Any], stream).take_events(size, within=within)


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
