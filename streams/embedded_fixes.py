"""Workarounds for faust 0.15.3 (any broker) and for the embedded Tansu broker."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.offset_guard import ContiguityGuard, Verdict

__all__ = [
    "SeekFirstRecovery",
    "SeekFirstTableManager",
    "install_consumer",
    "true_end_offsets",
]

log = logging.getLogger(__name__)

#: A fetch that returns nothing for this long means the partitions are read to the end.
#: The broker is on loopback and the changelogs are idle while a worker recovers.
_IDLE_MS = 300

#: An upper bound for one probe; a broker that keeps returning records is not idle.
_PROBE_TIMEOUT = 30.0


async def true_end_offsets(
    reported: Mapping[TP, int | None], options: Mapping[str, Any]
) -> dict[TP, int]:
    """Return the real end offset (last offset + 1) of each partition in `reported`.

    Tansu answers ListOffsets "latest" with the start of the last record batch + 1, so
    the reported end is never past the truth and at most one batch short of it. This
    reads each partition from `reported - 1` (the start of its last batch, or earlier)
    with a group-less consumer until a fetch comes back empty, and takes the offset after
    the last record read. A partition that yields nothing keeps its reported end.

    Args:
        reported: Partition -> end offset as the broker reported it (None: unknown).
        options: aiokafka connection options (bootstrap servers, security).

    Returns:
        Partition -> end offset, never below the reported one.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    ends = {tp: int(end or 0) for tp, end in reported.items()}
    if not ends:
        return ends
    consumer = AIOKafkaConsumer(
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **options
    )
    await consumer.start()
    try:
        tps = {TopicPartition(tp.topic, tp.partition): tp for tp in ends}
        consumer.assign(list(tps))
        for ktp, tp in tps.items():
            consumer.seek(ktp, max(ends[tp] - 1, 0))
        deadline = time.monotonic() + _PROBE_TIMEOUT
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=_IDLE_MS, max_records=10_000)
            if not batches:
                break
            for ktp, records in batches.items():
                if records:
                    tp = tps[ktp]
                    ends[tp] = max(ends[tp], records[-1].offset + 1)
        else:
            log.warning(
                "end-offset probe still reading after %.0fs; using what it read", _PROBE_TIMEOUT
            )
    finally:
        await consumer.stop()
    return ends


class SeekFirstRecovery(Recovery):
    """faust's Recovery, seeking the stream partitions *before* resuming them.

    faust 0.15.3 `Recovery.on_recovery_completed` calls `consumer.resume_partitions`
    and only then awaits `consumer.perform_seek()` and `app.flow_control.resume()`. The
    consumer flow is already active (recovery resumed it to read the changelogs), so
    during the seek's round trip the fetcher hands stream records, from wherever
    aiokafka's position is, to the agents' queues; `flow_control.resume()` then clears
    those queues (they are `clear_on_resume`), so the records are never processed.
    `perform_seek` meanwhile reset the read offset to the committed one, and the next
    record of the batch faust already holds (far past it) makes `_drain_messages`
    register the range in between as a gap, i.e. as done (it is committed with the next
    ack); the re-fetch from the committed offset is dropped ("DROPPED MESSAGE ROFF")
    because the read offset has moved past it by then. Seeking first closes the window:
    stream partitions stay paused (in faust) until their position is the committed one,
    and aiokafka's seek discards whatever it prefetched before. Cf. faust-streaming
    #216 / PR #217, which fixed the same ordering in `_resume_streams` only.
    """

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """Finish recovery: seek stream partitions, then resume them and the flow."""
        consumer = self.app.consumer
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callback_coros = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if callback_coros:
            await asyncio.wait(callback_coros)
        assignment = consumer.assignment()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        if assignment:
            self.log.info("Seek stream partitions to committed offsets (before resuming them).")
            await self._wait(consumer.perform_seek(), timeout=self.app.conf.broker_request_timeout)
            if self.app.consumer_generation_id != generation_id:
                self.log.warning("Recovery rebalancing again")
                return
        consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
        self.completed.set()
        self.app.flow_control.resume()
        consumer.resume_flow()
        await cast(Any, self.app)._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")


class SeekFirstTableManager(TableManager):
    """faust's TableManager that recovers tables with `SeekFirstRecovery` (any broker)."""

    @property
    def recovery(self) -> Recovery:
        """Recovery service used by this table manager (created on first use)."""
        if self._recovery is None:
            self._recovery = SeekFirstRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


#: Called with (outcome, topic, partition, expected offset, offset) when the guard acts:
#: outcome "refetched" (skipped offsets, re-read) or "confirmed" (a real hole in the log).
OffsetGapHook = Callable[[str, str, int, int, int], None]


class _GuardedConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int | None = None

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        if self.fetch_max_wait_ms is not None:
            # Read by AIOKafkaConsumer.start() to build its fetcher; faust has no option.
            consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class GuardedConsumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer that re-reads skipped offsets instead of committing past them.

    faust delivers fetched records through `getmany`; when a record's offset is past the
    one after the last delivered, its `_drain_messages` registers the offsets in between
    as done. faust 0.15.3 drops already fetched records in several rebalance paths (a
    generation change or a flow stop mid-batch, a paused partition) while the client's
    fetch position has moved past them, so the next fetch starts after them and they are
    committed unread: contacts neither routed nor dead-lettered. A `ContiguityGuard`
    holds such a record back and seeks the partition to the first missing offset; only a
    jump that the re-read confirms (transaction markers, compaction) is delivered as is.
    Changelog partitions are left to faust's recovery.
    """

    #: Set by `install_consumer` on a per-app subclass.
    on_gap: OffsetGapHook | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard: ContiguityGuard[TP] = ContiguityGuard()

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Fetched records, without any that follow offsets this consumer never delivered."""
        guard = self._guard
        guard.begin_batch()
        async for tp, message in super().getmany(timeout):
            if self._is_changelog_tp(tp):
                yield tp, message
                continue
            expected = guard.expected.get(tp, -1)
            verdict = guard.check(tp, message.offset)
            if verdict is Verdict.DELIVER:
                yield tp, message
            elif verdict is Verdict.CONFIRMED:
                self._report("confirmed", tp, expected, message.offset)
                yield tp, message
            elif verdict is Verdict.REFETCH:
                self._report("refetched", tp, expected, message.offset)
                # Move the fetch position only: faust's read offset stays at the last
                # record it delivered, so the re-read records are contiguous to it.
                await self._seek(tp, expected)

    def _report(self, outcome: str, tp: TP, expected: int, offset: int) -> None:
        if outcome == "refetched":
            log.warning(
                "%s[%d]: fetched offset %d but %d was never delivered; re-reading from %d",
                tp.topic, tp.partition, offset, expected, expected,
            )  # fmt: skip
        else:
            log.info(
                "%s[%d]: offsets %d..%d are not in the log (re-read confirmed)",
                tp.topic, tp.partition, expected, offset - 1,
            )  # fmt: skip
        if self.on_gap is not None:
            self.on_gap(outcome, tp.topic, tp.partition, expected, offset)

    async def seek(self, partition: TP, offset: int) -> None:
        """Seek, and expect `offset` next."""
        await super().seek(partition, offset)
        self._guard.reset(partition, offset)

    async def seek_wait(self, partitions: Mapping[TP, int]) -> None:
        """Seek and wait, and expect each partition's offset next."""
        await super().seek_wait(partitions)
        for tp, offset in partitions.items():
            self._guard.reset(tp, offset)

    async def perform_seek(self) -> None:
        """Seek to the committed offsets, and expect them next."""
        await super().perform_seek()
        for tp, offset in list(self._read_offset.items()):
            self._guard.reset(tp, offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        """Forget the revoked partitions' positions."""
        self._guard.forget(revoked)
        await super().on_partitions_revoked(revoked)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return self.ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    ConsumerThread: type[_GuardedConsumerThread] = _GuardedConsumerThread


def install_consumer(
    app: faust.App, *, fetch_max_wait_ms: int | None = None, on_gap: OffsetGapHook | None = None
) -> None:
    """Make `app`'s worker consumer a `GuardedConsumer`, fetching with `fetch_max_wait_ms`.

    `fetch_max_wait_ms` replaces faust's hard-coded 1,500 ms (None keeps it). The
    embedded broker answers a fetch only when its max wait expires, even if records
    arrived meanwhile (Kafka answers as soon as there is data): with faust's value each
    stage adds 0-1.5 s per contact. Call before the first topic is declared (faust builds
    its transport then).

    Raises:
        RuntimeError: a topic was declared already.
    """
    if app._transport is not None:
        raise RuntimeError("install_consumer must run before the first topic is declared")
    thread = type(
        "ConsumerThread", (_GuardedConsumerThread,), {"fetch_max_wait_ms": fetch_max_wait_ms}
    )
    hook = staticmethod(on_gap) if on_gap is not None else None
    consumer = type("Consumer", (GuardedConsumer,), {"ConsumerThread": thread, "on_gap": hook})
    transport = type("Transport", (faust_aiokafka.Transport,), {"Consumer": consumer})
    app.transport = transport(app.conf.broker_consumer, app)
