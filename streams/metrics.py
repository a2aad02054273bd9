"""Prometheus metrics of a worker, built from a registry passed in (tests use a fresh one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics"]

# Received -> decided in seconds: milliseconds when idle, seconds when a wave queues up work.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass(frozen=True, slots=True)
class Metrics:
    """All wavebreak_* metrics; label values are bounded, never customer data."""

    registry: CollectorRegistry
    raw_messages: Counter
    contacts_in: Counter
    dead_letters: Counter
    duplicates: Counter
    decisions: Counter
    decision_latency: Histogram
    batch_size: Histogram
    config_info: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        """Create the metrics in `registry` (a fresh one when None)."""
        reg = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=reg,
            raw_messages=Counter(
                "wavebreak_raw_messages",
                "Raw messages read from the contacts.raw topic, valid or not.",
                registry=reg,
            ),
            contacts_in=Counter(
                "wavebreak_contacts_in",
                "Contacts normalized successfully, by channel.",
                ["channel"],
                registry=reg,
            ),
            dead_letters=Counter(
                "wavebreak_dead_letters",
                "Records sent to the dead-letter topic, by channel ('unknown' if not known), "
                "reason code and pipeline stage.",
                ["channel", "reason", "stage"],
                registry=reg,
            ),
            duplicates=Counter(
                "wavebreak_duplicates",
                "Contacts seen again (adapter retry or redelivery) and not routed twice.",
                ["channel"],
                registry=reg,
            ),
            decisions=Counter(
                "wavebreak_decisions",
                "Routing decisions by target, queue, channel, strategy and deciding rule.",
                ["target", "queue", "channel", "strategy", "rule"],
                registry=reg,
            ),
            decision_latency=Histogram(
                "wavebreak_decision_latency_seconds",
                "Seconds from a contact being received (normalized) to its routing decision.",
                buckets=_LATENCY_BUCKETS,
                registry=reg,
            ),
            batch_size=Histogram(
                "wavebreak_batch_size",
                "Events per agent batch, by stage; small batches under load mean poll starvation.",
                ["stage"],
                buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500),
                registry=reg,
            ),
            config_info=Gauge(
                "wavebreak_config_info",
                "1 for the routing config version in force.",
                ["version", "strategy"],
                registry=reg,
            ),
        )
