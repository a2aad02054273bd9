"""A worker-local mirror of a small compacted topic: the latest value per key, read continuously."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["TopicMirror"]

log = logging.getLogger(__name__)


class TopicMirror:
    """Every worker reads all partitions of `topic` from the start; keeps the last value per key.

    Used for the config, load-state and capacity topics: small, keyed, read by all
    workers. It replaces a faust GlobalTable, which on faust 0.15.3 stops applying
    records that are produced by someone other than the table (the aggregator, the
    `config publish` command, the ACD feed) once its first recovery is done. Reading
    continuously with a group-less consumer also does not depend on end offsets, which
    the embedded broker misreports.

    Args:
        topic: full topic name.
        client_options: aiokafka connection options (bootstrap servers, security).
        decode: turns a record value into the stored value; a failure skips the record.
        on_update: called with (key, value) after each applied record.
    """

    def __init__(
        self,
        topic: str,
        client_options: dict[str, Any],
        *,
        decode: Callable[[bytes], Any] = lambda b: b,
        on_update: Callable[[bytes, Any], None] | None = None,
    ) -> None:
        self.topic = topic
        self._options = client_options
        self._decode = decode
        self._on_update = on_update
        self.data: dict[bytes, Any] = {}
        self.ready = asyncio.Event()
        self.records = 0
        self.skipped = 0

    async def run(self) -> None:
        """Read forever (cancel to stop); `ready` is set once the backlog has been read."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, auto_offset_reset="earliest", **self._options
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic)
            while not partitions:
                await consumer.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    await asyncio.sleep(0.5)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            while True:
                batches = await consumer.getmany(timeout_ms=250, max_records=1000)
                for records in batches.values():
                    for rec in records:
                        self._apply(rec.key, rec.value)
                if not batches and not self.ready.is_set():
                    # An empty fetch after the backlog: caught up (whatever end offset the
                    # broker reports).
                    self.ready.set()
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            self.skipped += 1
            return
        if value is None:  # a tombstone removes the key, as compaction would
            self.data.pop(key, None)
            return
        try:
            decoded = self._decode(value)
        except Exception as exc:  # a bad record must not stop the mirror
            self.skipped += 1
            log.warning("skipping undecodable record on %s (%s)", self.topic, type(exc).__name__)
            return
        self.data[key] = decoded
        self.records += 1
        if self._on_update is not None:
            self._on_update(key, decoded)
