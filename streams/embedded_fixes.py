"""Workarounds applied only when the broker is the embedded Tansu (settings.embedded)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from streams.kafka import client_options
from streams.settings import Settings

__all__ = [
    "EmbeddedRecovery",
    "EmbeddedTableManager",
    "apply_embedded_fixes",
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


class EmbeddedRecovery(Recovery):
    """faust's table Recovery with the changelog highwaters probed, not asked for.

    Recovery replays a changelog partition up to the highwater `consumer.highwaters()`
    returns (aiokafka `end_offsets`, i.e. ListOffsets "latest") and then pauses it for
    good. On Tansu that end is short by up to one batch, so the newest table updates
    would be skipped: customer memories roll back and already-routed contacts get routed
    again after every restart. The probe reads past the reported end instead.
    """

    def __init__(self, *args: Any, client_options: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_options = client_options

    async def _build_highwaters(
        self, consumer: Any, tps: set[TP], destination: Any, title: str
    ) -> None:
        await super()._build_highwaters(consumer, tps, destination, title)
        if not tps:
            return
        # faust stores highwater - 1 (the last offset to read); None/empty partitions are -1.
        reported = {tp: destination[tp] + 1 for tp in tps}
        ends = await true_end_offsets(reported, self.client_options)
        fixed = {tp: end for tp, end in ends.items() if end != reported[tp]}
        for tp, end in fixed.items():
            destination[tp] = end - 1
        if fixed:
            self.log.info(
                "embedded broker: %s changelog ends corrected %s",
                title,
                ", ".join(
                    f"{tp.topic}[{tp.partition}] {reported[tp]}->{e}"
                    for tp, e in sorted(fixed.items())
                ),
            )


class EmbeddedTableManager(TableManager):
    """faust's TableManager that recovers tables with `EmbeddedRecovery`.

    `apply_embedded_fixes` installs a subclass that carries the app's connection options
    (faust instantiates the class itself, with only the app and a beacon).
    """

    #: aiokafka options for the end-offset probe.
    client_options: Mapping[str, Any] = {}

    @property
    def recovery(self) -> Recovery:
        """Recovery service used by this table manager (created on first use)."""
        if self._recovery is None:
            self._recovery = EmbeddedRecovery(
                self.app,
                self,
                beacon=self.beacon,
                loop=self.loop,
                client_options=self.client_options,
            )
        return self._recovery


def apply_embedded_fixes(app: faust.App, settings: Settings) -> None:
    """Make `app` work around the embedded broker's known defects (see the README).

    Call it right after creating the app, before any table is declared: faust builds
    its table manager (and thereby picks the class) on the first `app.Table`.

    Raises:
        RuntimeError: a table was declared already.
    """
    if "tables" in app.__dict__:
        raise RuntimeError("apply_embedded_fixes must run before the first table is declared")
    options = dict(client_options(settings))
    manager: Any = type(
        EmbeddedTableManager.__name__,
        (EmbeddedTableManager,),
        {"client_options": options, "__module__": __name__},
    )
    app.conf.TableManager = manager
