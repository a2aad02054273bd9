"""The route stage: contacts.normalized -> decisions, with customer memory, on aiokafka."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from streams.batches import send_acknowledged
from streams.ingest import Source
from streams.memory_store import MemoryStore, PartitionMemory
from streams.metrics import Metrics
from streams.normalize_stage import bug_record
from streams.pipeline import Pipeline, Record
from streams.stage import LagGauge, StageKafka, commit_batch

__all__ = ["RouteStage"]

log = logging.getLogger(__name__)

#: Records per fetch while a partition's memory is rebuilt from its changelog.
_RESTORE_FETCH = 10_000
#: First wait before reading a changelog again that could not be read (doubling to 30 s).
_RESTORE_RETRY_S = 0.5


class RouteStage:
    """contacts.normalized -> dedup, enrich, remember, decide -> contacts.routed + per target.

    A plain aiokafka consume -> produce loop, like the normalize stage: faust's stream
    machinery (fetcher hand-off, an event, a queue hop, an ack and a changelog send per
    message) measured about as much CPU per contact as all of wavebreak's own work.

    Customer memory lives in RAM per partition (`MemoryStore`) and is backed by a
    compacted changelog topic with the same partitions as contacts.normalized. Per batch:
    route every contact, send the decisions and dead letters and wait until the broker
    has all of them, then send the changelog records of the keys the batch wrote (one per
    key: its latest value) and wait again, then commit the batch's offsets. The order is
    what makes a crash safe: a memory on the changelog means its decision is on the
    broker, so a restarted worker never drops a contact as "already routed" whose
    decision was lost; a crash in between only routes the batch again (at-least-once;
    the decisions carry the contact id).

    A partition that arrives in a rebalance is paused and rebuilt from the changelog by a
    task of its own, then resumed: the rebalance listener returns at once, because
    aiokafka sends no heartbeats while it runs (a long restore there would get the member
    evicted). Partitions kept across a rebalance keep their memory only while the
    worker's group membership (member id) is the same one: with Kafka's eager rebalancing
    no other worker can have routed them in between, but after an eviction another worker
    may have. Revoking cancels a restore in progress and waits for the batch in flight,
    so a batch never writes a partition's changelog after its new owner started reading.

    Args:
        pipeline: The pure pipeline (its `route` step, observer and clock); it must be
            built with `native_memory=True` (the store holds `CustomerMemory` objects).
        metrics: Batch sizes, lag of the contacts partitions and commit latency.
        topic: contacts.normalized.
        changelog: The memory changelog topic (compacted, same partitions as `topic`).
        kafka: The stage's consumer group and clients.
        end_offsets: Corrects the end offsets the broker reports for the changelog
            partitions (the embedded broker reports them short: `true_end_offsets`).
        before_routing: Awaited once before the first contact is routed (the worker
            reads the latest published routing config first).
        legacy_group: The group that routed these partitions before this stage existed
            (faust's, `<app id>`): a partition this stage's group never committed
            starts where that group stopped, not at the earliest record, so an upgrade
            does not route the topic's whole retention again.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: Metrics,
        *,
        topic: str,
        changelog: str,
        kafka: StageKafka,
        end_offsets: Callable[[Mapping[Any, int | None]], Awaitable[Mapping[Any, int]]]
        | None = None,
        before_routing: Callable[[], Awaitable[Any]] | None = None,
        legacy_group: str | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self.topic = topic
        self.changelog = changelog
        self.kafka = kafka
        self._end_offsets = end_offsets
        self._before_routing = before_routing
        self._legacy_group = legacy_group
        self.store = MemoryStore()
        # Held by a batch from routing to commit, by revocation and by changelog flushes.
        self._lock = asyncio.Lock()
        self._owned: frozenset[int] = frozenset()  # restored partitions, safe to route
        self._rebalancing = False
        self._restoring: asyncio.Task[None] | None = None
        self._member: str | None = None  # the group membership the held memory belongs to
        self._consumer: Any = None
        self._producer: Any = None
        self._lag = LagGauge(metrics.consumer_lag, topic)

    # ------------------------------------------------------------------ state

    def assignment(self) -> frozenset[int]:
        """The contacts partitions this worker routes now (restored and not being revoked)."""
        return self._owned

    def settled(self) -> bool:
        """Whether partitions are assigned and no rebalance or restore is in progress."""
        restoring = self._restoring is not None and not self._restoring.done()
        return bool(self._owned) and not self._rebalancing and not restoring

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Join the group, route, produce, commit; until cancelled (then leave the group)."""
        producer = self.kafka.make_producer()
        await producer.start()
        self._producer = producer
        try:
            await self._adopt_legacy_offsets()
            consumer = self.kafka.make_consumer()
            consumer.subscribe([self.topic], listener=_listener(self))
            self._consumer = consumer  # the listener pauses and resumes through it
            await consumer.start()
            try:
                if self._before_routing is not None:
                    await self._before_routing()
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    if batches:
                        async with self._lock:
                            await self._process(consumer, producer, batches)
                    self._lag.refresh(consumer)
            finally:
                # Nothing may reach the changelog any more (a sweep flush, a restore):
                # stop() leaves the group without calling the revocation listener.
                self._owned = frozenset()
                self._producer = None
                await self._cancel_restore()
                self._consumer = None
                self._lag.refresh(None)
                await consumer.stop()
        finally:
            self._producer = None
            await producer.stop()

    async def _process(
        self, consumer: Any, producer: Any, batches: Mapping[Any, Sequence[Any]]
    ) -> None:
        owned = self._owned
        records: list[Record] = []
        offsets: dict[Any, int] = {}
        touched: list[PartitionMemory] = []
        for tp, recs in batches.items():
            if not recs:
                continue
            if tp.partition not in owned:
                # Fetched before a revocation (the new owner routes these) or before its
                # restore: read it again from here once it is routed.
                if tp in consumer.assignment():
                    consumer.seek(tp, recs[0].offset)
                continue
            memory = self.store.partition(tp.partition)
            touched.append(memory)
            for rec in recs:
                records.extend(self._route(rec, memory))
            offsets[tp] = recs[-1].offset + 1
        if not offsets:
            return
        self._metrics.batch_size.labels("route").observe(sum(len(r) for r in batches.values()))
        try:
            await send_acknowledged(producer, records, "route")
        except BaseException:
            # The memory in RAM already holds this batch, its decisions may not be on the
            # broker: it must never reach the changelog. Forget those partitions; they
            # are rebuilt from the changelog when they come back.
            self._forget(touched)
            raise
        await send_acknowledged(producer, self._changelog_records(touched), "route changelog")
        await commit_batch(consumer, offsets, stage="route", metrics=self._metrics, lag=self._lag)

    def _forget(self, memories: Collection[PartitionMemory]) -> None:
        for memory in memories:
            memory.take_dirty()
            self.store.drop(memory.partition)
        self._owned = self._owned - {m.partition for m in memories}

    def _route(self, rec: Any, memory: PartitionMemory) -> list[Record]:
        source = Source(topic=rec.topic, partition=rec.partition, offset=rec.offset)
        try:
            return self._pipeline.route(rec.value, source, memory)
        except Exception as exc:
            return [bug_record(self._pipeline, "route", rec.value, source, exc)]

    def _changelog_records(self, memories: Collection[PartitionMemory]) -> list[Record]:
        return [
            Record(self.changelog, key, value, partition=memory.partition)
            for memory in memories
            for key, value in memory.take_dirty().items()
        ]

    async def flush_changelog(self) -> None:
        """Changelog what changed outside a batch (the sweep's deletions) and wait for it."""
        async with self._lock:
            producer = self._producer
            if producer is None:
                return
            memories = [self.store.partition(p) for p in self._owned]
            await send_acknowledged(producer, self._changelog_records(memories), "memory sweep")

    # ------------------------------------------------------------------ rebalancing

    async def on_revoked(self) -> None:
        """Stop routing: cancel a restore, wait for the batch in flight (its commit)."""
        self._rebalancing = True
        await self._cancel_restore()
        async with self._lock:
            self._owned = frozenset()

    async def on_assigned(self, partitions: Collection[int]) -> None:
        """Route kept partitions at once; pause the new ones and rebuild them in a task."""
        try:
            async with self._lock:
                consumer = self._consumer
                member = _member_id(consumer)
                if member != self._member:
                    # A new membership (first join, or after an eviction): another worker
                    # may have routed any of these partitions meanwhile.
                    for p in list(self.store.partitions()):
                        self.store.drop(p)
                    self._member = member
                new = set(partitions)
                for p in set(self.store.partitions()) - new:
                    self.store.drop(p)
                missing = sorted(new - set(self.store.partitions()))
                self._owned = frozenset(new - set(missing))
                if missing:
                    tps = _topic_partitions(self.topic, missing)
                    if consumer is not None:
                        consumer.pause(*tps)
                    self._restoring = asyncio.create_task(self._restore_and_resume(missing))
        finally:
            self._rebalancing = False

    async def _restore_and_resume(self, partitions: Sequence[int]) -> None:
        started = time.monotonic()
        restored = await self._restore_until_read(partitions)
        async with self._lock:
            for memory in restored:
                self.store.install(memory)
            self._owned = self._owned | set(partitions)
            if self._consumer is not None:
                self._consumer.resume(*_topic_partitions(self.topic, partitions))
        log.info(
            "route: restored %d customer memories of partitions %s in %.1fs",
            sum(len(m) for m in restored),
            list(partitions),
            time.monotonic() - started,
        )

    async def _cancel_restore(self) -> None:
        task, self._restoring = self._restoring, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _restore_until_read(self, partitions: Sequence[int]) -> list[PartitionMemory]:
        """`_restore`, retried until it succeeds: routing without the memory would be wrong.

        Nothing of these partitions is routed meanwhile (they stay paused, their lag grows,
        and alerts on it); the rest of the worker's partitions are routed.
        """
        delay = _RESTORE_RETRY_S
        while True:
            try:
                return await self._restore(partitions)
            except Exception as exc:
                log.error(
                    "route: cannot rebuild the customer memory of partitions %s from %s "
                    "(%s: %s); retrying in %.0fs. Does the topic exist "
                    "(WAVEBREAK_CREATE_TOPICS) and may this worker read it?",
                    list(partitions),
                    self.changelog,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _adopt_legacy_offsets(self) -> None:
        """Before joining: a group that never committed on `topic` takes the legacy commits.

        Copied by committing them for this group before any of its members fetches (a
        seek in the rebalance listener would race the fetch that is already under way).
        Every worker that starts does this before it joins, and only while the group has
        no commit of its own, so the copies are the same and none overwrites progress.
        """
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient
        from aiokafka.errors import KafkaError

        legacy_group = self._legacy_group
        if legacy_group is None:
            return
        admin = AIOKafkaAdminClient(**self.kafka.client)
        try:
            await admin.start()
            # Partitions named: the embedded broker cannot list a group's offsets for all.
            (described,) = await admin.describe_topics([self.topic])
            tps = [TopicPartition(self.topic, p["partition"]) for p in described["partitions"]]
            ours = await admin.list_consumer_group_offsets(self.kafka.group_id, partitions=tps)
            if any(meta.offset >= 0 for meta in ours.values()):
                return
            legacy = await admin.list_consumer_group_offsets(legacy_group, partitions=tps)
        except KafkaError as exc:
            log.warning("route: could not read the offsets of group %s (%s)", legacy_group, exc)
            return
        finally:
            await admin.close()
        offsets = {
            tp: m.offset for tp, m in legacy.items() if tp.topic == self.topic and m.offset >= 0
        }
        if not offsets:
            return
        committer = AIOKafkaConsumer(
            group_id=self.kafka.group_id, enable_auto_commit=False, **self.kafka.client
        )
        await committer.start()
        try:
            committer.assign(list(offsets))
            await committer.commit(offsets)
        except KafkaError as exc:  # another worker joined first: it copied them already
            log.warning("route: could not copy the offsets of group %s (%s)", legacy_group, exc)
            return
        finally:
            await committer.stop()
        log.info(
            "route: group %s starts where group %s stopped on %s (%s)",
            self.kafka.group_id,
            legacy_group,
            self.topic,
            ", ".join(f"[{tp.partition}] {o}" for tp, o in sorted(offsets.items())),
        )

    async def _restore(self, partitions: Sequence[int]) -> list[PartitionMemory]:
        """Read the changelog partitions from the start to their end offsets."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        memories = {p: PartitionMemory(p) for p in partitions}
        consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.kafka.client,
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.changelog, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            reported: dict[Any, int | None] = dict(await consumer.end_offsets(tps))
            ends = dict(await self._end_offsets(reported)) if self._end_offsets else reported
            remaining = {tp for tp in tps if (ends.get(tp) or 0) > await consumer.position(tp)}
            while remaining:
                batches = await consumer.getmany(
                    *remaining, timeout_ms=1000, max_records=_RESTORE_FETCH
                )
                for tp, recs in batches.items():
                    memory = memories[tp.partition]
                    for rec in recs:
                        if rec.key is not None:  # every changelog record has one
                            memory.apply(rec.key, rec.value)
                for tp in list(remaining):
                    if await consumer.position(tp) >= (ends.get(tp) or 0):
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        return list(memories.values())


def _member_id(consumer: Any) -> str | None:
    """The consumer's current group member id (aiokafka keeps it on its coordinator)."""
    coordinator = getattr(consumer, "_coordinator", None)
    return getattr(coordinator, "member_id", None)


def _topic_partitions(topic: str, partitions: Collection[int]) -> list[Any]:
    from aiokafka import TopicPartition

    return [TopicPartition(topic, p) for p in partitions]


def _listener(stage: RouteStage) -> Any:
    """Aiokafka's rebalance listener, handing the events to the stage."""
    from aiokafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
        async def on_partitions_revoked(self, revoked: Collection[Any]) -> None:
            await stage.on_revoked()

        async def on_partitions_assigned(self, assigned: Collection[Any]) -> None:
            await stage.on_assigned({tp.partition for tp in assigned})

    return Listener()
