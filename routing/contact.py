"""The canonical Contact every channel is normalized into, and the routing Decision made for it."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from routing.channels import Channel

__all__ = [
    "Contact",
    "ContactTraits",
    "Decision",
    "Flag",
    "Language",
    "Strategy",
    "Target",
]

Language = Literal["ru", "en", "other"]
Strategy = Literal["open", "closed"]


class Target(StrEnum):
    """Where a contact goes: self-service, the human agents' queue, or a senior specialist."""

    BOT = "bot"
    QUEUE = "queue"
    SENIOR = "senior"


class Flag(StrEnum):
    """Facts about a decision that agents and dashboards act on."""

    PUBLIC = "public"
    REPEAT = "repeat"
    LONG_MESSAGE = "long_message"
    VIP = "vip"
    LEGAL_THREAT = "legal_threat"
    CHURN_THREAT = "churn_threat"
    HUMAN_REQUESTED = "human_requested"
    NEGATIVE = "negative"
    MOVE_TO_PRIVATE = "move_to_private_for_personal_data"
    CALLBACK_OFFERED = "callback_offered"
    OVERFLOW = "overflow"
    WAVE = "wave"


class ContactTraits(BaseModel):
    """Channel traits copied onto the contact so consumers need no channel table."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voice: bool
    synchronous: bool
    public: bool


class Contact(BaseModel):
    """One customer contact, whatever channel it came through.

    `customer_key` is a pseudonymous, stable key (kind prefix + hash of the strongest
    identifier the adapter gave us), so one person is one key across channels and the
    key can appear in logs without exposing a phone number or an email address.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="wavebreak contact id, derived from channel and event_id")
    event_id: str = Field(description="the adapter's event id; retries repeat it")
    channel: Channel
    traits: ContactTraits
    customer_key: str
    customer_tier: str | None = None
    language: Language
    text: str = ""
    text_length: int = Field(ge=0, default=0)
    thread_id: str | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    schema_version: int = 1
    meta: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="routing-relevant channel facts (wait time, IVR path, network, branch)",
    )


class Decision(BaseModel):
    """Where one contact was routed, by which rule, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    contact_id: str
    event_id: str
    customer_key: str
    channel: Channel
    target: Target
    queue: str
    priority: int = Field(ge=0, le=100)
    reply_channel: Channel
    strategy: Strategy
    wave_level: str = "normal"
    rule_id: str
    reasons: tuple[str, ...]
    flags: tuple[Flag, ...] = ()
    sla_due_at: AwareDatetime
    config_version: str
    received_at: AwareDatetime
    decided_at: AwareDatetime

    @property
    def latency_seconds(self) -> float:
        """Seconds from the contact reaching wavebreak to the decision."""
        return (self.decided_at - self.received_at).total_seconds()
