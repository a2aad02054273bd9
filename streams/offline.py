"""Offline routing of a file of raw envelopes in event order, through the workers' own pipeline."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from routing.config import ConfigError, RoutingConfig, load_config
from routing.contact import Contact, Decision
from routing.enrich import Signals
from routing.memory import CustomerMemory
from routing.policy import QueueLoad, queue_loads
from routing.waves import LoadState, WaveDetector
from streams.commands._common import fail
from streams.ingest import DeadLetter, Normalizer, Source
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.topics import TopicNames

__all__ = ["OfflineResult", "OfflineRouter", "load_router", "open_input"]

# The normalizer rejects contacts "from the future" relative to its clock. Offline, event
# time is the only time: contacts are normalized against a clock far ahead and stamped
# received_at = occurred_at (the normalizer's event-time mode).
_FAR: Final = datetime(9000, 1, 1, tzinfo=UTC)
# Longest silence filled with empty ticks; a longer hole is missing data to the detector.
_MAX_FILL_S: Final = 2 * 86400


@dataclass(frozen=True, slots=True)
class OfflineResult:
    """What happened to one input line.

    Exactly one of `decision`, `dead` is set, or neither for a duplicate (then
    `duplicate` is True).
    """

    line: int
    contact: Contact | None = None
    decision: Decision | None = None
    dead: DeadLetter | None = None
    duplicate: bool = False
    signals: Signals | None = None
    triggers: tuple[str, ...] = ()
    earlier_contacts: int = 0


class _Capture:
    """Observer that keeps the current contact's signals and triggers, and counts arrivals."""

    def __init__(self) -> None:
        self.signals: Signals | None = None
        self.triggers: tuple[str, ...] = ()
        self.duplicate = False
        self.counts: dict[str, list[int]] = {}

    def reset(self) -> None:
        self.signals = None
        self.triggers = ()
        self.duplicate = False

    def on_raw(self) -> None:
        """Not used offline."""

    def on_contact(self, contact: Contact) -> None:
        """Not used offline."""

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Not used offline."""

    def on_duplicate(self, contact: Contact) -> None:
        """Mark the current line as a duplicate."""
        self.duplicate = True

    def on_decision(self, decision: Decision) -> None:
        """Nothing to do: the decision is returned by the pipeline."""

    def on_signals(self, contact: Contact, signals: Signals) -> None:
        """Keep the signals and count the arrival (and whether it was negative)."""
        self.signals = signals
        count = self.counts.setdefault(contact.channel.value, [0, 0])
        count[0] += 1
        if signals.sentiment.label == "negative":
            count[1] += 1

    def on_escalation(self, decision: Decision, triggers: tuple[str, ...]) -> None:
        """Keep the senior triggers."""
        self.triggers = triggers


class OfflineRouter:
    """normalize -> enrich -> memory -> decide over raw envelopes, in event time.

    A `WaveDetector` with the config's detector settings is fed one tick per second of
    event time (from the contacts' `occurred_at`; silent seconds as empty ticks), and
    each contact is decided with the load state as of the end of the previous second,
    as the workers see the last published state. Customer memory is an in-process dict.

    Args:
        config: The routing config.
        phone_region: Default region for phone numbers without a country code.
        capacity: A static queue capacity snapshot, if any.
        identity_salt: Customer-key salt (use the deployment's to compare with live keys).
    """

    def __init__(
        self,
        config: RoutingConfig,
        *,
        phone_region: str = "RU",
        capacity: Mapping[str, QueueLoad] | None = None,
        identity_salt: bytes = b"",
    ) -> None:
        self.config = config
        # Customer key (bytes) -> CustomerMemory: in-process, so the pipeline keeps the
        # objects themselves rather than the table's JSON-ready dicts.
        self.memory: dict[Any, Any] = {}
        self.detector = WaveDetector(config.waves.detector)
        self._capture = _Capture()
        self._now = _FAR
        self._state = LoadState(at=0.0)
        self._second: int | None = None
        capacity_snapshot = dict(capacity or {})
        self.pipeline = Pipeline(
            TopicNames.from_settings(Settings()),
            Normalizer(
                lambda: _FAR,
                phone_region=phone_region,
                identity_salt=identity_salt,
                event_time=True,
            ),
            lambda: self._now,
            config=lambda: config,
            load=lambda: self._state,
            capacity=lambda: capacity_snapshot,
            observer=self._capture,
            native_memory=True,
        )

    @property
    def load_state(self) -> LoadState:
        """The load state the next contact will be decided with."""
        return self._state

    def run(self, lines: Iterable[bytes]) -> Iterator[OfflineResult]:
        """Process raw lines (blank lines are skipped; numbering counts every line)."""
        for number, line in enumerate(lines, start=1):
            raw = line.rstrip(b"\r\n")
            if raw.strip():
                yield self.process(raw, number)
        self.flush()

    def process(self, raw: bytes, line: int = 0) -> OfflineResult:
        """Route one raw envelope."""
        # The source only matters to a dead letter: it is built (a validated model) for those.
        result = self.pipeline.normalizer(raw, None)
        if isinstance(result, DeadLetter):
            update: dict[str, Any] = {"source": Source(topic="offline", partition=0, offset=line)}
            if self._now is not _FAR:
                update["received_at"] = self._now
            return OfflineResult(line=line, dead=result.model_copy(update=update))
        contact = result  # stamped received_at = occurred_at by the event-time normalizer
        self._advance(int(contact.occurred_at.timestamp()))
        self._now = contact.occurred_at
        capture = self._capture
        capture.reset()
        decision = self.pipeline.decide(contact, self.memory)
        if decision is None:
            return OfflineResult(line=line, contact=contact, duplicate=True)
        memory: CustomerMemory = self.memory[contact.customer_key.encode()]
        return OfflineResult(
            line=line,
            contact=contact,
            decision=decision,
            signals=capture.signals,
            triggers=capture.triggers,
            earlier_contacts=max(0, len(memory.recent) - 1),
        )

    def flush(self) -> None:
        """Tick the open second into the detector (end of input)."""
        if self._second is not None:
            self._tick(self._second)
            self._state = self.detector.snapshot()

    def _tick(self, second: int) -> None:
        counts = self._capture.counts
        self.detector.tick(float(second), {ch: (n, neg) for ch, (n, neg) in counts.items()})
        counts.clear()

    def _advance(self, second: int) -> None:
        """Close every second before `second`; late contacts count in the open second."""
        if self._second is None:
            self._second = second
            return
        if second <= self._second:
            return
        self._tick(self._second)
        gap = second - self._second - 1
        if 0 < gap <= _MAX_FILL_S:
            self.detector.feed(float(self._second + 1), {"voice": [0] * gap})
        self._second = second
        self._state = self.detector.snapshot()


def open_input(name: str) -> AbstractContextManager[BinaryIO]:
    """Open a JSONL input file ('-': stdin, left open) in binary mode."""
    if name == "-":
        return nullcontext(sys.stdin.buffer)
    try:
        return open(name, "rb")
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror or exc}")


def load_router(args: argparse.Namespace) -> OfflineRouter:
    """Build the router of `wavebreak route/explain` from its arguments (readable errors)."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        fail("invalid routing config:\n" + "\n".join(f"  {p}" for p in exc.problems), 2)
    capacity: dict[str, QueueLoad] = {}
    if getattr(args, "capacity", None):
        try:
            data = orjson.loads(Path(args.capacity).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            fail(f"cannot read capacity snapshot {args.capacity}: {exc}", 2)
        if not isinstance(data, dict):
            fail(f"capacity snapshot {args.capacity} must be a JSON object", 2)
        capacity = queue_loads(data)
    return OfflineRouter(config, phone_region=args.phone_region, capacity=capacity)
