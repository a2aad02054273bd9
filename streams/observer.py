"""Bridges pipeline outcomes to Prometheus metrics."""

from __future__ import annotations

from routing.contact import Contact, Decision
from streams.ingest import DeadLetter
from streams.metrics import Metrics

__all__ = ["MetricsObserver"]


class MetricsObserver:
    """Counts what the pipeline does; labels are channel/reason/target enums and config names."""

    __slots__ = ("_m",)

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def on_raw(self) -> None:
        """Count a raw message."""
        self._m.raw_messages.inc()

    def on_contact(self, contact: Contact) -> None:
        """Count a normalized contact by channel."""
        self._m.contacts_in.labels(contact.channel.value).inc()

    def on_dead_letter(self, dead: DeadLetter) -> None:
        """Count a dead letter by channel, reason and stage."""
        self._m.dead_letters.labels(dead.channel or "unknown", dead.reason.value, dead.stage).inc()

    def on_duplicate(self, contact: Contact) -> None:
        """Count a duplicate by channel."""
        self._m.duplicates.labels(contact.channel.value).inc()

    def on_decision(self, decision: Decision) -> None:
        """Count a decision and observe its latency."""
        self._m.decisions.labels(
            decision.target.value,
            decision.queue,
            decision.channel.value,
            decision.strategy,
            decision.rule_id,
        ).inc()
        self._m.decision_latency.observe(max(decision.latency_seconds, 0.0))
