"""Observers of pipeline outcomes: Prometheus metrics and the wave detector's tick counts."""

from __future__ import annotations

from typing import Any

from routing.contact import Contact, Decision, Flag
from routing.enrich import Signals
from streams.ingest import DeadLetter
from streams.load import TickCounter
from streams.metrics import Metrics
from streams.pipeline import Observer

__all__ = ["FanOut", "LoadObserver", "MetricsObserver"]


class _Children:
    """A labelled metric's children by label values, looked up once per label set.

    prometheus-client's `labels()` validates and locks on every call: several calls per
    contact were about 3 % of a worker's CPU. The label values here are channels, reasons,
    targets and config names (a bounded set), and these series are never removed.
    """

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        return child


class MetricsObserver:
    """Counts what the pipeline does; labels are channel/reason/target enums and config names."""

    __slots__ = (
        "_contacts_in",
        "_dead_letters",
        "_decisions",
        "_duplicates",
        "_escalations",
        "_m",
        "_sentiment_labels",
        "_sentiment_score",
    )

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics
        self._contacts_in = _Children(metrics.contacts_in)
        self._dead_letters = _Children(metrics.dead_letters)
        self._duplicates = _Children(metrics.duplicates)
        self._sentiment_score = _Children(metrics.sentiment_score)
        self._sentiment_labels = _Children(metrics.sentiment_labels)
        self._escalations = _Children(metrics.escalations)
        self._decisions = _Children(metrics.decisions)

    def on_raw(self) -> None:
        """Count a raw message."""
        self._m.raw_messages.inc()

    def on_contact(self, contact: Contact) -> None:
        """Count a normalized contact by channel."""
        self._contacts_in(contact.channel.value).inc()

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Count a dead letter by channel, reason and stage."""
        self._dead_letters(dead.channel or "unknown", dead.reason.value, dead.stage).inc()

    def on_duplicate(self, contact: Contact) -> None:
        """Count a duplicate by channel."""
        self._duplicates(contact.channel.value).inc()

    def on_signals(self, contact: Contact, signals: Signals) -> None:
        """Observe the sentiment score and count negative contacts by channel."""
        self._sentiment_score(contact.language).observe(signals.sentiment.score)
        self._sentiment_labels(contact.channel.value, signals.sentiment.label).inc()

    def on_escalation(self, decision: Decision, triggers: tuple[str, ...]) -> None:
        """Count senior escalations by trigger (one decision may have several)."""
        for trigger in triggers:
            self._escalations(trigger).inc()

    def on_decision(self, decision: Decision) -> None:
        """Count a decision and observe its latency."""
        self._decisions(
            decision.target.value,
            decision.queue,
            decision.channel.value,
            decision.strategy,
            decision.rule_id,
        ).inc()
        self._m.decision_latency.observe(max(decision.latency_seconds, 0.0))


class LoadObserver:
    """Counts routed contacts per second and channel for the wave detector's ticks."""

    __slots__ = ("_counter",)

    def __init__(self, counter: TickCounter) -> None:
        self._counter = counter

    def on_raw(self) -> None:
        """Not counted: waves are about contacts, not bytes."""

    def on_contact(self, contact: Contact) -> None:
        """Counted when routed (after enrichment knows whether it is negative)."""

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Not counted."""

    def on_duplicate(self, contact: Contact) -> None:
        """Not counted: a retry is not a new arrival."""

    def on_decision(self, decision: Decision) -> None:
        """Count the contact at the second it was received."""
        self._counter.record(
            decision.received_at.timestamp(),
            decision.channel.value,
            Flag.NEGATIVE in decision.flags,
        )


class FanOut:
    """Passes every outcome to several observers."""

    __slots__ = ("_observers",)

    def __init__(self, *observers: Observer) -> None:
        self._observers = observers

    def on_raw(self) -> None:
        """Fan out."""
        for o in self._observers:
            o.on_raw()

    def on_contact(self, contact: Contact) -> None:
        """Fan out."""
        for o in self._observers:
            o.on_contact(contact)

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Fan out."""
        for o in self._observers:
            o.on_dead_letter(dead)

    def on_duplicate(self, contact: Contact) -> None:
        """Fan out."""
        for o in self._observers:
            o.on_duplicate(contact)

    def on_decision(self, decision: Decision) -> None:
        """Fan out."""
        for o in self._observers:
            o.on_decision(decision)

    def on_signals(self, contact: Contact, signals: Signals) -> None:
        """Fan out to observers that take signals."""
        for o in self._observers:
            hook = getattr(o, "on_signals", None)
            if hook is not None:
                hook(contact, signals)

    def on_escalation(self, decision: Decision, triggers: tuple[str, ...]) -> None:
        """Fan out to observers that take escalations."""
        for o in self._observers:
            hook = getattr(o, "on_escalation", None)
            if hook is not None:
                hook(decision, triggers)
