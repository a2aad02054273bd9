"""Per-customer memory kept by the route stage: which contacts were already routed (idempotence)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CustomerMemory", "DedupSettings", "observe"]


@dataclass(frozen=True, slots=True)
class DedupSettings:
    """How long and how many routed contact ids are remembered per customer.

    Adapters retry with the same event_id and Kafka redelivers after a crash; both must
    not route a contact twice. The window bounds memory; the cap bounds a single noisy
    customer (a bot hammering a web form).
    """

    window_seconds: float = 24 * 3600.0
    max_per_customer: int = 200


@dataclass(frozen=True, slots=True)
class CustomerMemory:
    """What the route stage remembers about one customer key.

    `seen` maps contact id -> when it was received (epoch seconds).
    """

    seen: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the table value)."""
        return {"seen": dict(self.seen)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CustomerMemory:
        """Rebuild from `to_dict` output; tolerates None and missing keys."""
        if not data:
            return cls()
        seen = data.get("seen") or {}
        return cls(seen={str(k): float(v) for k, v in seen.items()})


def observe(
    memory: CustomerMemory, contact_id: str, at: float, settings: DedupSettings
) -> tuple[CustomerMemory, bool]:
    """Record that `contact_id` arrived at `at`; return (new memory, whether it is a duplicate).

    A duplicate leaves the memory unchanged, so a redelivered contact changes nothing.
    Entries older than the window (relative to `at`, so a replay in event time behaves
    like the live run) are dropped, and only the newest `max_per_customer` are kept.
    """
    horizon = at - settings.window_seconds
    seen_at = memory.seen.get(contact_id)
    if seen_at is not None and seen_at >= horizon:
        return memory, True
    kept = {cid: ts for cid, ts in memory.seen.items() if ts >= horizon}
    kept[contact_id] = at
    if len(kept) > settings.max_per_customer:
        newest = sorted(kept.items(), key=lambda kv: kv[1])[-settings.max_per_customer :]
        kept = dict(newest)
    return CustomerMemory(seen=kept), False
