"""The stateless normalize stage: a plain aiokafka consume -> produce loop inside the worker."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from streams.batches import send_acknowledged
from streams.codecs import encode_model
from streams.ingest import DeadLetter, Reason, Source
from streams.metrics import Metrics
from streams.pipeline import Pipeline, Record
from streams.stage import LagGauge, StageKafka, commit_batch

__all__ = ["NormalizeStage", "bug_record", "refused_record"]

log = logging.getLogger(__name__)


def refused_record(pipeline: Pipeline, record: Record, raw_size: int, source: Source) -> Record:
    """What replaces an output the broker refused as too large: a dead letter without bytes.

    A contact whose normalized form is over the broker's message size limit becomes a
    `too_large` dead letter; a dead letter that is too large with its original bytes goes
    without them. Either way it names the source record, where the original still is.
    """
    note = (
        f"the original ({raw_size} bytes) is not included: over the broker's message size "
        f"limit; read it at {source.topic}[{source.partition}]@{source.offset}"
    )
    if record.topic == pipeline.topics.dlq and record.value is not None:
        dead = orjson.loads(record.value)
        dead["message"] = f"{dead.get('message', '')} ({note})"
        dead["original_b64"] = ""
        return Record(record.topic, record.key, orjson.dumps(dead))
    contact = orjson.loads(record.value) if record.value is not None else {}
    letter = DeadLetter(
        reason=Reason.TOO_LARGE,
        event_id=contact.get("event_id"),
        channel=contact.get("channel"),
        message=f"the normalized contact is over the broker's message size limit; {note}",
        source=source,
        original_size=raw_size,
        original_b64="",
        received_at=pipeline.clock(),
    )
    pipeline.observer.on_dead_letter(letter)
    return Record(pipeline.topics.dlq, None, encode_model(letter))


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
        kafka: The stage's consumer group and clients.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        metrics: Metrics,
        *,
        topic: str,
        kafka: StageKafka,
    ) -> None:
        self._pipeline = pipeline
        self._metrics = metrics
        self.topic = topic
        self.kafka = kafka
        self._consumer: Any = None
        self._lag = LagGauge(metrics.consumer_lag, topic)

    def assignment(self) -> frozenset[Any]:
        """The raw partitions this worker normalizes now (empty before its group join)."""
        consumer = self._consumer
        return frozenset(consumer.assignment()) if consumer is not None else frozenset()

    async def run(self) -> None:
        """Consume, normalize, produce, commit; until cancelled (then leave the group)."""
        producer = self.kafka.make_producer()
        await producer.start()
        try:
            consumer = self.kafka.make_consumer(self.topic)
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
        inputs = [rec for recs in batches.values() for rec in recs]
        records = [self._normalize(rec) for rec in inputs]
        self._metrics.batch_size.labels("normalize").observe(len(records))
        origin = {id(out): rec for out, rec in zip(records, inputs, strict=True)}

        def replace(record: Record, exc: BaseException) -> Record:
            rec = origin[id(record)]
            source = Source(topic=rec.topic, partition=rec.partition, offset=rec.offset)
            return refused_record(self._pipeline, record, len(rec.value or b""), source)

        await send_acknowledged(producer, records, "normalize", replace)
        offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items() if recs}
        await commit_batch(
            consumer, offsets, stage="normalize", metrics=self._metrics, lag=self._lag
        )

    def _normalize(self, rec: Any) -> Record:
        source = Source(topic=rec.topic, partition=rec.partition, offset=rec.offset)
        try:
            return self._pipeline.normalize(rec.value, source)
        except Exception as exc:
            return bug_record(self._pipeline, "normalize", rec.value, source, exc)

    def refresh_lag(self) -> None:
        """Set `wavebreak_consumer_lag` for the assigned raw partitions; drop revoked ones."""
        self._lag.refresh(self._consumer)
