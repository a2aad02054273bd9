"""Prometheus metrics of a worker, built from a registry passed in (tests use a fresh one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from routing.config import RoutingConfig
from routing.policy import QueueLoad
from routing.waves import LoadState, WaveLevel

__all__ = ["Metrics"]

# Received -> decided in seconds: milliseconds when idle, seconds when a wave queues up work.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


# Offset commits: a few milliseconds on a healthy cluster, seconds when the broker struggles.
_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

_LEVEL_VALUE = {WaveLevel.NORMAL: 0, WaveLevel.ELEVATED: 1, WaveLevel.WAVE: 2}


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
    sentiment_score: Histogram
    sentiment_labels: Counter
    escalations: Counter
    batch_size: Histogram
    config_info: Gauge
    config_reloads: Counter
    arrival_rate: Gauge
    baseline_rate: Gauge
    wave_level: Gauge
    overload: Gauge
    negativity_wave: Gauge
    negative_share: Gauge
    wave_changes: Counter
    late_ticks: Counter
    consumer_lag: Gauge
    commit_latency: Histogram
    memory_customers: Gauge
    memory_expired: Counter
    memory_sweeps: Counter
    offset_gaps: Counter
    queue_in_flight: Gauge
    queue_limit: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry | None = None) -> Metrics:
        """Create the metrics in `registry` (a fresh one when None)."""
        reg = registry if registry is not None else CollectorRegistry()
        metrics = cls._build(reg)
        # Known label values start at 0, so that the first refusal is an increase
        # (Prometheus sees no increase in a series that is born at 1).
        for result in ("applied", "refused"):
            metrics.config_reloads.labels(result)
        return metrics

    @classmethod
    def _build(cls, reg: CollectorRegistry) -> Metrics:
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
            sentiment_score=Histogram(
                "wavebreak_sentiment_score",
                "Sentiment score of routed contacts (-1 very negative .. 1 positive), by language.",
                ["language"],
                buckets=(-0.8, -0.6, -0.4, -0.2, -0.05, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0),
                registry=reg,
            ),
            sentiment_labels=Counter(
                "wavebreak_sentiment",
                "Routed contacts by channel and sentiment label (negative share = negative/all).",
                ["channel", "label"],
                registry=reg,
            ),
            escalations=Counter(
                "wavebreak_senior_escalations",
                "Decisions sent to a senior specialist, by trigger (one decision may count "
                "under several triggers).",
                ["trigger"],
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
            config_reloads=Counter(
                "wavebreak_config_reloads",
                "Routing configs received from the config topic: applied, or refused (invalid; "
                "the last good config stays in force).",
                ["result"],
                registry=reg,
            ),
            arrival_rate=Gauge(
                "wavebreak_arrival_rate",
                "Contacts per second over the detector's short window, by channel ('all' too).",
                ["channel"],
                registry=reg,
            ),
            baseline_rate=Gauge(
                "wavebreak_baseline_rate",
                "The detector's learned normal rate (contacts per second), by channel.",
                ["channel"],
                registry=reg,
            ),
            wave_level=Gauge(
                "wavebreak_wave_level",
                "Wave level by channel: 0 normal, 1 elevated, 2 wave.",
                ["channel"],
                registry=reg,
            ),
            overload=Gauge(
                "wavebreak_overload",
                "1 while a channel's arrivals exceed the configured capacity of its queues.",
                ["channel"],
                registry=reg,
            ),
            negativity_wave=Gauge(
                "wavebreak_negativity_wave",
                "1 while a channel's share of negative contacts is sharply above its baseline.",
                ["channel"],
                registry=reg,
            ),
            negative_share=Gauge(
                "wavebreak_negative_share",
                "Share of negative contacts over the detector's window, by channel.",
                ["channel"],
                registry=reg,
            ),
            wave_changes=Counter(
                "wavebreak_wave_changes",
                "Load state changes published by the aggregator, by channel, signal and new level.",
                ["channel", "signal", "level"],
                registry=reg,
            ),
            late_ticks=Counter(
                "wavebreak_late_ticks",
                "Worker ticks that reached the aggregator after their second was closed.",
                registry=reg,
            ),
            consumer_lag=Gauge(
                "wavebreak_consumer_lag",
                "Records not yet committed by this worker (highwater - committed offset), by "
                "assigned topic and partition, as seen by this worker's fetcher.",
                ["topic", "partition"],
                registry=reg,
            ),
            commit_latency=Histogram(
                "wavebreak_commit_latency_seconds",
                "Seconds one consumer offset commit took (flush of attached sends included).",
                buckets=_COMMIT_BUCKETS,
                registry=reg,
            ),
            memory_customers=Gauge(
                "wavebreak_memory_customers",
                "Customer memories this worker holds (the partitions it routes), "
                "as of the last memory sweep.",
                registry=reg,
            ),
            memory_expired=Counter(
                "wavebreak_memory_expired",
                "Customer memories deleted by the sweep after their dedup window and history "
                "expired.",
                registry=reg,
            ),
            memory_sweeps=Counter(
                "wavebreak_memory_sweeps",
                "Completed sweeps of the customer memory (WAVEBREAK_MEMORY_SWEEP_SECONDS).",
                registry=reg,
            ),
            offset_gaps=Counter(
                "wavebreak_offset_gaps",
                "Jumps in a partition's offsets seen by the worker consumer, by topic and "
                "outcome: 'refetched' (records were skipped and read again; a faust "
                "rebalance race was caught) or 'confirmed' (a real hole in the log).",
                ["topic", "outcome"],
                registry=reg,
            ),
            queue_in_flight=Gauge(
                "wavebreak_queue_in_flight",
                "Contacts queued or handled now, from the capacity snapshot (ACD/WFM), by "
                "queue of the active config and role (senior, human, bot).",
                ["queue", "role"],
                registry=reg,
            ),
            queue_limit=Gauge(
                "wavebreak_queue_limit",
                "Contacts a queue takes at once: the capacity snapshot's limit, else the "
                "config's capacity hint; by queue of the active config and role.",
                ["queue", "role"],
                registry=reg,
            ),
        )

    def observe_load(self, state: LoadState) -> None:
        """Set the per-channel load gauges from the latest load state."""
        for name, load in state.channels.items():
            self.arrival_rate.labels(name).set(load.rate)
            self.baseline_rate.labels(name).set(load.baseline)
            self.wave_level.labels(name).set(_LEVEL_VALUE[load.level])
            self.overload.labels(name).set(1 if load.overload else 0)
            self.negativity_wave.labels(name).set(1 if load.negativity else 0)
            self.negative_share.labels(name).set(load.negative_share)

    def observe_capacity(self, config: RoutingConfig, loads: Mapping[str, QueueLoad]) -> None:
        """Set the per-queue capacity gauges for the queues of `config`.

        Queue names come from the config (ops-defined, bounded); a snapshot entry for a
        queue the config does not know is ignored. Queues that left the config lose
        their series.

        Args:
            config: The routing config in force.
            loads: The latest capacity snapshot, queue -> live load.
        """
        seen: set[tuple[str, str]] = set()
        for name, queue in config.queues.items():
            role = "senior" if name == config.senior.queue else "bot" if queue.bot else "human"
            live = loads.get(name)
            limit = live.limit if live is not None and live.limit is not None else queue.capacity
            if live is not None:
                self.queue_in_flight.labels(name, role).set(live.in_flight)
            if limit is not None:
                self.queue_limit.labels(name, role).set(limit)
            seen.add((name, role))
        for gauge in (self.queue_in_flight, self.queue_limit):
            for sample in list(next(iter(gauge.collect())).samples):
                key = (sample.labels["queue"], sample.labels["role"])
                if key not in seen or (gauge is self.queue_in_flight and key[0] not in loads):
                    gauge.remove(*key)
