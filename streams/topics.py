"""Topic names and partition counts (DESIGN.md §1), derived from the settings' prefix."""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings

__all__ = ["TopicNames"]


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Full topic names of one deployment; every topic is declared with its partition count.

    Data topics share one partition count so that keys (customer keys) land on the same
    partition number everywhere and tables stay co-partitioned with their source topic.
    Config, load-state and capacity topics are single-partition and compacted: every worker
    reads all of them. Load ticks are single-partition too: one worker aggregates them.
    """

    raw: str
    normalized: str
    dlq: str
    routed: str
    route_bot: str
    route_queue: str
    route_senior: str
    load_ticks: str
    load_state: str
    config: str
    capacity: str
    memory_changelog: str
    data_partitions: int

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        """Build the names from `settings.topic_prefix`."""
        t = settings.topic
        return cls(
            raw=t("contacts.raw"),
            normalized=t("contacts.normalized"),
            dlq=t("contacts.dlq"),
            routed=t("contacts.routed"),
            route_bot=t("route.bot"),
            route_queue=t("route.queue"),
            route_senior=t("route.senior"),
            load_ticks=t("load.ticks"),
            load_state=t("load.state"),
            config=t("routing.config"),
            capacity=t("capacity"),
            # The name faust gave the customer-memory table's changelog when the route
            # stage ran on faust, so deployments keep their memory across the upgrade.
            memory_changelog=f"{settings.app_id}-customer-memory-changelog",
            data_partitions=settings.partitions,
        )

    def route_topic(self, target: str) -> str:
        """Per-target topic for 'bot', 'queue' or 'senior'."""
        return {"bot": self.route_bot, "queue": self.route_queue, "senior": self.route_senior}[
            target
        ]

    def partitions(self) -> dict[str, int]:
        """Every topic wavebreak uses with its partition count (for creation at startup)."""
        data = self.data_partitions
        return {
            self.raw: data,
            self.normalized: data,
            self.dlq: data,
            self.routed: data,
            self.route_bot: data,
            self.route_queue: data,
            self.route_senior: data,
            # Co-partitioned with contacts.normalized: partition p holds the memories of
            # the customers whose contacts are on partition p.
            self.memory_changelog: data,
            # One aggregation point sees every worker's ticks: the detector needs all
            # channels at once for the "all channels" aggregate. Ticks are one small record
            # per worker per second, so one partition is plenty.
            self.load_ticks: 1,
            self.load_state: 1,
            self.config: 1,
            self.capacity: 1,
        }

    def compacted(self) -> frozenset[str]:
        """Topics that hold the latest value per key."""
        return frozenset({self.load_state, self.config, self.capacity, self.memory_changelog})
