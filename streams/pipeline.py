"""The pure processing steps behind the agents: raw bytes in, output records out, no Kafka."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from pydantic import ValidationError

from routing.config import RoutingConfig
from routing.contact import Contact, Decision
from routing.enrich import Enricher, Signals, enricher_for
from routing.memory import (
    CustomerMemory,
    DedupSettings,
    HistoryEntry,
    HistorySettings,
    expires_at,
    observe,
    remember,
    summarize,
)
from routing.policy import CompiledPolicy, LoadView, QueueLoad, RoutingContext, compile_policy
from routing.waves import LoadState
from streams.codecs import encode_model
from streams.ingest import DeadLetter, Normalizer, Reason, Source
from streams.topics import TopicNames

__all__ = ["NullObserver", "Observer", "Pipeline", "Record"]

_EMPTY_LOAD = LoadState(at=0.0)
_NO_CAPACITY: Mapping[str, QueueLoad] = {}
_NO_MEMORY = CustomerMemory()


@dataclass(frozen=True, slots=True)
class Record:
    """One record to produce: topic, key and value bytes (None: a tombstone).

    `partition` None lets the producer's partitioner place it by key; a changelog record
    names the partition of the contacts it belongs to.
    """

    topic: str
    key: bytes | None
    value: bytes | None
    partition: int | None = None


class Observer(Protocol):
    """Receives pipeline outcomes (the worker counts them in Prometheus).

    Two more hooks are called when the observer has them (they are optional so an
    older observer keeps working): `on_signals(contact, signals)` after a contact's
    text was analysed (sentiment histogram, negative share), and
    `on_escalation(decision, triggers)` for every decision whose senior triggers
    fired, with the trigger names (escalations by trigger).
    """

    def on_raw(self) -> None:
        """A raw message was read."""

    def on_contact(self, contact: Contact) -> None:
        """A raw message became a contact."""

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """A record was dead-lettered."""

    def on_duplicate(self, contact: Contact) -> None:
        """A contact was seen before and not routed again."""

    def on_decision(self, decision: Decision) -> None:
        """A contact was routed."""


class NullObserver:
    """An observer that ignores everything (offline tools, tests)."""

    def on_raw(self) -> None:
        """Ignore."""

    def on_contact(self, contact: Contact) -> None:
        """Ignore."""

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Ignore."""

    def on_duplicate(self, contact: Contact) -> None:
        """Ignore."""

    def on_decision(self, decision: Decision) -> None:
        """Ignore."""

    def on_signals(self, contact: Contact, signals: Signals) -> None:
        """Ignore."""

    def on_escalation(self, decision: Decision, triggers: tuple[str, ...]) -> None:
        """Ignore."""


class Pipeline:
    """normalize: raw -> normalized contact | dead letter; route: contact -> decision records.

    Both steps are total: whatever the input, they return records to produce and never
    raise, so a poison message can neither stop a worker nor be lost.

    Args:
        topics: Output topic names.
        normalizer: The configured normalizer.
        clock: The decision time (`decided_at`).
        config: Returns the active routing config (hot-reloaded by the caller).
        load: Returns the latest published load state (default: every channel normal).
        capacity: Returns the live queue loads, queue -> `QueueLoad` (default: none known).
        dedup: Dedup window and cap; default: the active config's `memory` section.
        observer: Receives outcomes (see `Observer`).
        native_memory: The `memory` mapping given to `route`/`decide` holds
            `CustomerMemory` objects rather than JSON-ready dicts (an in-process dict
            that is never serialized: the offline router); saves the dict round trip.
    """

    # The active config's enricher and compiled policy (both set by `_use`).
    _enricher: Enricher
    _policy: CompiledPolicy

    def __init__(
        self,
        topics: TopicNames,
        normalizer: Normalizer,
        clock: Callable[[], datetime],
        *,
        config: Callable[[], RoutingConfig],
        load: Callable[[], LoadState] | None = None,
        capacity: Callable[[], Mapping[str, QueueLoad]] | None = None,
        dedup: DedupSettings | None = None,
        observer: Observer | None = None,
        native_memory: bool = False,
    ) -> None:
        self.topics = topics
        self.normalizer = normalizer
        self.clock = clock
        self.config = config
        self.load = load or (lambda: _EMPTY_LOAD)
        self.capacity = capacity or (lambda: _NO_CAPACITY)
        self.dedup = dedup
        self.observer: Observer = observer or NullObserver()
        self._on_signals = getattr(self.observer, "on_signals", None)
        self._on_escalation = getattr(self.observer, "on_escalation", None)
        # Per config object: the settings derived from it (a hot reload swaps them).
        self._cfg: RoutingConfig | None = None
        self._dedup = dedup or DedupSettings()
        self._history = HistorySettings()
        # Per load-state object: channel -> view (the state changes once a second).
        self._load_state: LoadState | None = None
        self._views: dict[str, LoadView] = {}
        self._native = native_memory

    def normalize(self, raw: bytes | None, source: Source) -> Record:
        """Normalize one raw message into a record for the normalized or the dead-letter topic."""
        self.observer.on_raw()
        result = self.normalizer(raw or b"", source)
        if isinstance(result, DeadLetter):
            return self._dead(result)
        self.observer.on_contact(result)
        # Keyed by customer so one person's contacts stay in order on one partition, next to
        # that customer's memory in the co-partitioned table.
        return Record(self.topics.normalized, result.customer_key.encode(), encode_model(result))

    def route(
        self, value: bytes | None, source: Source, memory: MutableMapping[Any, Any]
    ) -> list[Record]:
        """Route one normalized contact; `memory` is the partition's customer memory (or a dict).

        Returns the decision records (routed + per-target topic), nothing for a duplicate,
        or a dead letter when the record does not decode.
        """
        try:
            contact = Contact.model_validate_json(value or b"")
        except ValidationError as exc:
            errors = exc.errors(include_input=False, include_url=False)
            where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
            return [
                self._dead(
                    DeadLetter.of(
                        value or b"",
                        Reason.UNDECODABLE_CONTACT,
                        f"record on {source.topic} is not a wavebreak contact "
                        f"({where or 'value'}: {errors[0]['msg'] if errors else 'invalid'})",
                        field=where or None,
                        source=source,
                        stage="route",
                        received_at=self.clock(),
                    )
                )
            ]
        decision = self.decide(contact, memory)
        if decision is None:
            return []
        kb = contact.customer_key.encode()
        body = encode_model(decision)
        return [
            Record(self.topics.routed, kb, body),
            Record(self.topics.route_topic(decision.target.value), kb, body),
        ]

    def decide(self, contact: Contact, memory: MutableMapping[Any, Any]) -> Decision | None:
        """Dedup, enrich, remember and decide one contact; None for a duplicate.

        This is the step the offline `route` and `explain` commands share with the workers.
        The memory entry is written under the customer key (bytes) as a JSON-ready dict
        (a `CustomerMemory` with `native_memory`).
        """
        config = self.config()
        if config is not self._cfg:
            self._use(config)
        kb = contact.customer_key.encode()
        at = contact.received_at.timestamp()
        stored = memory.get(kb)
        if self._native:
            before = stored if stored is not None else _NO_MEMORY
        else:
            before = CustomerMemory.from_dict(stored)
        after, duplicate = observe(before, contact.id, at, self._dedup)
        if duplicate:
            self.observer.on_duplicate(contact)
            return None
        signals = self._enricher(contact)
        if self._on_signals is not None:
            self._on_signals(contact, signals)
        channel = contact.channel.value
        entry = HistoryEntry(
            contact.id, channel, at, signals.sentiment.score, contact.traits.public
        )
        after = remember(after, entry, self._history)
        memory[kb] = after if self._native else after.to_dict()
        ctx = RoutingContext(
            now=self.clock(),
            sentiment=signals.sentiment,
            intents=signals.intents,
            history=summarize(after, contact.id, at),
            load=self._view(channel),
            capacity=self.capacity(),
        )
        decision, triggers = self._policy.decide_with_triggers(contact, ctx)
        self.observer.on_decision(decision)
        if triggers and self._on_escalation is not None:
            self._on_escalation(decision, triggers)
        return decision

    def memory_expires_at(self, value: Any) -> float:
        """When a stored customer memory stops mattering under the active config."""
        config = self.config()
        if config is not self._cfg:
            self._use(config)
        if self._native and isinstance(value, CustomerMemory):
            value = value.to_dict()
        elif isinstance(value, bytes):  # a restored memory not read since
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                return -math.inf  # unreadable: reading it would start afresh anyway
        return expires_at(value, self._dedup, self._history)

    def _use(self, config: RoutingConfig) -> None:
        m = config.memory
        self._cfg = config
        # Both are cached per config; looked up once per config here, not per contact.
        self._enricher = enricher_for(config)
        self._policy = compile_policy(config)
        if self.dedup is None:
            self._dedup = DedupSettings(m.dedup_seconds, m.dedup_max)
        self._history = HistorySettings(
            m.history_seconds, m.max_contacts, m.sentiment_half_life_seconds
        )

    def _view(self, channel: str) -> LoadView:
        state = self.load()
        if state is not self._load_state:
            self._load_state = state
            self._views = {}
        view = self._views.get(channel)
        if view is None:
            view = self._views[channel] = LoadView.of(state, channel)
        return view

    def _dead(self, dead: DeadLetter) -> Record:
        self.observer.on_dead_letter(dead)
        key = dead.event_id.encode() if dead.event_id else None
        return Record(self.topics.dlq, key, encode_model(dead))
