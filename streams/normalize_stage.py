"""The stateless normalize stage: a plain aiokafka consume -> produce loop inside the worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from streams.batches import send_acknowledged
from streams.codecs import encode_model
from streams.ingest import DeadLetter, Reason, Source
from streams.lag import LagGauge
from streams.metrics import Metrics
from streams.pipeline import Pipeline, Record

__all__ = ["NormalizeStage", "bug_record"]

log = logging.getLogger(__name__)


def bug_record(
    pipeline: Pipeline, stage: str, value: bytes | None, source: Source, exc: Exception
) -> Record:
    """The dead letter for a pipeline step that raised: a bug must not lose the contact."""
    log.exception("%s failed on %s[%d]@%d", stage, source.topic, source.partition, source.offset)
    dead = DeadLetter.of(
        value or b"",
        Reason.INTERNAL_ERROR,
        f"{stage} failed with {type(exc).__name__}; this is a wavebreak bug",
        source=source,
        stage=stage,
        received_at=pipeline.clock(),
    )
    pipeline.observer.on_dead_letter(dead)
    return Record(pipeline.topics.dlq, None, encode_model(dead))


class NormalizeStage:
    """contacts.raw -> normalize -> contacts.normalized | dlq, without faust's per-event cost.

    Normalizing needs no state and no co-partitioning, so it does not need faust's stream
    machinery (fetcher hand-off, an event, a queue hop and an ack per message), which
    measured about as much CPU per contact as the normalizing itself. This loop takes a
    fetched batch, normalizes it, sends the outputs as one aiokafka batch per partition,
    waits until the broker has acknowledged all of them and only then commits the batch's
    offsets: at-least-once, as with faust. Its own consumer group (`group_id`; faust's
    group cannot hold a member with another assignor) balances the raw partitions across
    workers. After a rebalance or a crash the new owner re-reads from the last commit (at
    most the batch in flight per partition), and the route stage recognises the repeats
    by contact id (see RouteStage, which runs the same way with its customer memory).

    Args:
        pipeline: The pure pipeline (its `normalize` step and observer).
        metrics: Batch sizes and the consumer lag of the raw partitions.
        topic: The raw topic.
        group_id: The consumer group of this stage.
        client_options: aiokafka connection options (bootstrap servers, security).
        consumer_options: Further consumer settings (session timeout, fetch wait, ...).
        producer_options: Further producer settings (linger, batch size, acks, ...).
        batch_size: Most records per batch.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: Metrics,
        *,
        topic: str,
        group_id: str,
        client_options: Mapping[str, Any],
        consumer_options: Mapping[str, Any],
        producer_options: Mapping[str, Any],
        batch_size: int,
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self.topic = topic
        self.group_id = group_id
        self._client = dict(client_options)
        self._consumer_options = dict(consumer_options)
        self._producer_options = dict(producer_options)
        self._batch_size = batch_size
        self._consumer: Any = None
        self._lag = LagGauge(metrics.consumer_lag, topic)

    def assignment(self) -> frozenset[Any]:
        """The raw partitions this worker normalizes now (empty before its group join)."""
        consumer = self._consumer
        return frozenset(consumer.assignment()) if consumer is not None else frozenset()

    async def run(self) -> None:
        """Consume, normalize, produce, commit; until cancelled (then leave the group)."""
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        producer = AIOKafkaProducer(**self._producer_options, **self._client)
        await producer.start()
        try:
            consumer = AIOKafkaConsumer(
                self.topic,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=self._batch_size,
                **self._consumer_options,
                **self._client,
            )
            await consumer.start()
            self._consumer = consumer
            try:
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    if batches:
                        await self._process(consumer, producer, batches)
                    self.refresh_lag()
            finally:
                self._consumer = None
                self.refresh_lag()
                await consumer.stop()
        finally:
            # Waits for what was sent; a batch not committed yet is re-read by the next owner.
            await producer.stop()

    async def _process(
        self, consumer: Any, producer: Any, batches: Mapping[Any, Sequence[Any]]
    ) -> None:
        from aiokafka.errors import CommitFailedError, IllegalStateError

        records = [self._normalize(rec) for recs in batches.values() for rec in recs]
        self._metrics.batch_size.labels("normalize").observe(len(records))
        await send_acknowledged(producer, records, "normalize")
        offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items() if recs}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced while the batch was in flight: its outputs are on the
            # broker, and the partitions' new owner re-reads them from the last commit.
            log.warning("normalize: commit refused after a rebalance (%s)", type(exc).__name__)
            return
        self._lag.committed(offsets)

    def _normalize(self, rec: Any) -> Record:
        source = Source(topic=rec.topic, partition=rec.partition, offset=rec.offset)
        try:
            return self._pipeline.normalize(rec.value, source)
        except Exception as exc:
            return bug_record(self._pipeline, "normalize", rec.value, source, exc)

    def refresh_lag(self) -> None:
        """Set `wavebreak_consumer_lag` for the assigned raw partitions; drop revoked ones."""
        self._lag.refresh(self._consumer)
