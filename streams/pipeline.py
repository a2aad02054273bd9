"""The pure processing steps behind the agents: raw bytes in, output records out, no Kafka."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from routing.contact import Contact, Decision
from routing.memory import CustomerMemory, DedupSettings, observe
from streams.codecs import encode_model
from streams.ingest import DeadLetter, Normalizer, Reason, Source
from streams.topics import TopicNames

__all__ = ["NullObserver", "Observer", "Pipeline", "Record", "Router"]

Router = Callable[[Contact, datetime], Decision]


@dataclass(frozen=True, slots=True)
class Record:
    """One record to produce: topic, key and value bytes."""

    topic: str
    key: bytes | None
    value: bytes


class Observer(Protocol):
    """Receives pipeline outcomes (the worker counts them in Prometheus)."""

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


class Pipeline:
    """normalize: raw -> normalized contact | dead letter; route: contact -> decision records.

    Both steps are total: whatever the input, they return records to produce and never
    raise, so a poison message can neither stop a worker nor be lost.
    """

    def __init__(
        self,
        topics: TopicNames,
        normalizer: Normalizer,
        router: Router,
        clock: Callable[[], datetime],
        *,
        dedup: DedupSettings | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.topics = topics
        self.normalizer = normalizer
        self.router = router
        self.clock = clock
        self.dedup = dedup or DedupSettings()
        self.observer: Observer = observer or NullObserver()

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
        """Route one normalized contact; `memory` is the customer-memory table (or a dict).

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
        kb = contact.customer_key.encode()
        before = CustomerMemory.from_dict(memory.get(kb))
        after, duplicate = observe(before, contact.id, contact.received_at.timestamp(), self.dedup)
        if duplicate:
            self.observer.on_duplicate(contact)
            return []
        memory[kb] = after.to_dict()
        decision = self.router(contact, self.clock())
        self.observer.on_decision(decision)
        body = encode_model(decision)
        return [
            Record(self.topics.routed, kb, body),
            Record(self.topics.route_topic(decision.target.value), kb, body),
        ]

    def _dead(self, dead: DeadLetter) -> Record:
        self.observer.on_dead_letter(dead)
        key = dead.event_id.encode() if dead.event_id else None
        return Record(self.topics.dlq, key, encode_model(dead))
