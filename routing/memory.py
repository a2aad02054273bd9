"""Per-customer memory of the route stage: routed contact ids (dedup) and recent contacts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

__all__ = [
    "EMPTY_HISTORY",
    "CustomerMemory",
    "DedupSettings",
    "HistoryEntry",
    "HistorySettings",
    "HistorySummary",
    "expires_at",
    "observe",
    "remember",
    "summarize",
]


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
class HistorySettings:
    """How much of a customer's recent contacts is kept.

    Attributes:
        history_seconds: Contacts older than this (relative to the newest) are dropped.
        max_contacts: At most this many contacts are kept per customer (the newest).
        sentiment_half_life_seconds: Half-life of the rolling sentiment: a complaint
            from last week still counts, but half as much as one from today.
    """

    history_seconds: float = 30 * 86400.0
    max_contacts: int = 50
    sentiment_half_life_seconds: float = 3 * 86400.0


class HistoryEntry(NamedTuple):
    """One remembered contact: no text, only what routing needs across channels.

    A named tuple rather than a dataclass: memories are rebuilt from JSON for every
    contact, and tuples are several times cheaper to make.
    """

    contact_id: str
    channel: str
    at: float
    score: float
    public: bool


class _MemoryDict(dict[str, Any]):
    """A `to_dict` result: a plain JSON-ready dict that also holds the parsed memory.

    Serializers (orjson, json, pickle) see an ordinary dict; only `from_dict` looks at
    `parsed`, and only on this exact type, so a dict that came back from the changelog
    or anyone else's dict is always parsed and checked.
    """

    __slots__ = ("parsed",)

    def __init__(self, **fields: Any) -> None:
        super().__init__(**fields)
        self.parsed: CustomerMemory | None = None


@dataclass(frozen=True, slots=True)
class CustomerMemory:
    """What the route stage remembers about one customer key.

    Attributes:
        seen: Contact id -> when it was received (epoch seconds), for dedup.
        recent: Recent contacts, oldest first.
        rolling: (weighted score sum, weight, at) of the time-decayed rolling
            sentiment, or None before the first contact.
    """

    seen: Mapping[str, float] = field(default_factory=dict)
    recent: tuple[HistoryEntry, ...] = ()
    rolling: tuple[float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the table value).

        `{"seen": {id: at}, "recent": [[id, channel, at, score, public], ...],
        "rolling": [sum, weight, at] | null}`; memories written before `recent`
        existed (only "seen") still load.

        The dict remembers the memory it was made from, so that `from_dict` of it (the
        next contact of the same customer, read back from the table) costs nothing. Do
        not mutate it: treat table values as immutable, as the route stage does.
        """
        data = _MemoryDict(
            seen=dict(self.seen),
            recent=[list(e) for e in self.recent],
            rolling=list(self.rolling) if self.rolling is not None else None,
        )
        data.parsed = self
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> CustomerMemory:
        """Rebuild from `to_dict` output; tolerates None and missing keys."""
        if not data:
            return cls()
        if type(data) is _MemoryDict and data.parsed is not None:
            # Our own `to_dict` output read back from the table: no need to parse it again.
            return data.parsed
        seen = data.get("seen") or {}
        recent = tuple(
            HistoryEntry(str(c), str(ch), float(at), float(score), bool(public))
            for c, ch, at, score, public in data.get("recent") or ()
        )
        rolling = data.get("rolling")
        return cls(
            seen={str(k): float(v) for k, v in seen.items()},
            recent=recent,
            rolling=(float(rolling[0]), float(rolling[1]), float(rolling[2])) if rolling else None,
        )


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
    return CustomerMemory(seen=kept, recent=memory.recent, rolling=memory.rolling), False


def remember(
    memory: CustomerMemory, entry: HistoryEntry, settings: HistorySettings
) -> CustomerMemory:
    """Add a contact to the recent history and the rolling sentiment.

    Idempotent: a contact id already in the history changes nothing, so a redelivered
    contact is never a second contact. Contacts may arrive out of order (they are kept
    sorted by time); entries older than `history_seconds` before the newest are dropped
    and only the newest `max_contacts` are kept.
    """
    if any(e.contact_id == entry.contact_id for e in memory.recent):
        return memory
    recent = [*memory.recent, entry]
    if len(recent) > 1 and recent[-2].at > entry.at:
        recent.sort(key=lambda e: (e.at, e.contact_id))
    horizon = recent[-1].at - settings.history_seconds
    if recent[0].at < horizon:
        recent = [e for e in recent if e.at >= horizon]
    if len(recent) > settings.max_contacts:
        recent = recent[-settings.max_contacts :]
    return CustomerMemory(
        seen=memory.seen,
        recent=tuple(recent),
        rolling=_roll(memory.rolling, entry.score, entry.at, settings.sentiment_half_life_seconds),
    )


def _roll(
    rolling: tuple[float, float, float] | None, score: float, at: float, half_life: float
) -> tuple[float, float, float]:
    if rolling is None:
        return (score, 1.0, at)
    total, weight, last = rolling
    if at >= last:
        decay = math.pow(0.5, (at - last) / half_life)
        return (total * decay + score, weight * decay + 1.0, at)
    # A late contact counts with the weight it would have had by now.
    late = math.pow(0.5, (last - at) / half_life)
    return (total + score * late, weight + late, last)


@dataclass(frozen=True, slots=True)
class HistorySummary:
    """A customer's earlier contacts as seen from one contact (which is not among them).

    Attributes:
        at: The time of the contact being routed.
        earlier: Earlier remembered contacts, oldest first.
        rolling_sentiment: Time-decayed mean sentiment including the current contact,
            or None when nothing is known.
    """

    at: float = 0.0
    earlier: tuple[HistoryEntry, ...] = ()
    rolling_sentiment: float | None = None

    def count_within(self, seconds: float) -> int:
        """Earlier contacts in the `seconds` before `at` (any channel)."""
        horizon = self.at - seconds
        return sum(1 for e in self.earlier if horizon <= e.at <= self.at)

    def channels_within(self, seconds: float) -> tuple[str, ...]:
        """Distinct channels of the earlier contacts within the window, first seen first."""
        horizon = self.at - seconds
        return tuple(dict.fromkeys(e.channel for e in self.earlier if horizon <= e.at <= self.at))

    def public_negative_within(self, seconds: float, below: float) -> bool:
        """Whether an earlier public contact within the window scored below `below`."""
        horizon = self.at - seconds
        return any(
            e.public and e.score < below and horizon <= e.at <= self.at for e in self.earlier
        )


EMPTY_HISTORY: Final = HistorySummary()


def expires_at(
    data: Mapping[str, Any] | None, dedup: DedupSettings, history: HistorySettings
) -> float:
    """When a stored memory (`CustomerMemory.to_dict` form) stops mattering, in epoch seconds.

    After it, every routed id has left the dedup window and every contact the history, so
    the next contact of this customer would find no earlier contact and no id to dedup
    (only a rolling-sentiment weight decayed by 2^-(history / half-life)): the entry can
    be deleted.
    Reads the stored form directly (no parsing): a worker checks every entry it holds.
    A memory it cannot read never expires (nothing is deleted on a guess).
    """
    if not data:
        return -math.inf
    try:
        last_seen = max(map(float, (data.get("seen") or {}).values()), default=-math.inf)
        recent = data.get("recent") or ()
        last_contact = max((float(e[2]) for e in recent), default=-math.inf)
        rolling = data.get("rolling")
        last_rolled = float(rolling[2]) if rolling else -math.inf
    except (TypeError, ValueError, IndexError, AttributeError):
        return math.inf
    return max(
        last_seen + dedup.window_seconds,
        max(last_contact, last_rolled) + history.history_seconds,
    )


def summarize(memory: CustomerMemory, contact_id: str, at: float) -> HistorySummary:
    """What routing needs from the memory for contact `contact_id` received at `at`."""
    earlier = tuple(e for e in memory.recent if e.contact_id != contact_id)
    rolling = memory.rolling
    value = rolling[0] / rolling[1] if rolling is not None and rolling[1] > 0.0 else None
    if not earlier and value is None:
        return HistorySummary(at=at)
    return HistorySummary(at=at, earlier=earlier, rolling_sentiment=value)
