"""Dead-letter records: why a raw message could not become a contact, with the original bytes."""

from __future__ import annotations

import base64
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

__all__ = ["DeadLetter", "Reason", "Source"]


class Reason(StrEnum):
    """Stable, machine-readable reason codes (metric label values and alert keys; never rename)."""

    TOO_LARGE = "too_large"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_ENVELOPE = "invalid_envelope"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    UNKNOWN_CHANNEL = "unknown_channel"
    BAD_TIMESTAMP = "bad_timestamp"
    SCHEMA_VIOLATION = "schema_violation"
    # A record on an internal topic (normalized contacts) that does not decode, or a bug:
    # still dead-lettered so that nothing is lost silently.
    UNDECODABLE_CONTACT = "undecodable_contact"
    INTERNAL_ERROR = "internal_error"


class Source(BaseModel):
    """Where the original record was read from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int
    offset: int


class DeadLetter(BaseModel):
    """A rejected input: what was wrong (reason, field, message) and the exact original bytes.

    `message` names the offending field and what was expected; it never quotes the input,
    because the input may hold a customer's text, phone number or email.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: Reason
    message: str
    field: str | None = None
    event_id: str | None = None
    channel: str | None = None
    stage: str = "normalize"
    source: Source | None = None
    original_size: int
    original_b64: str
    received_at: AwareDatetime

    @classmethod
    def of(
        cls,
        raw: bytes,
        reason: Reason,
        message: str,
        *,
        received_at: AwareDatetime,
        field: str | None = None,
        event_id: str | None = None,
        channel: str | None = None,
        source: Source | None = None,
        stage: str = "normalize",
    ) -> DeadLetter:
        """Build a dead letter carrying `raw` base64-encoded."""
        return cls(
            reason=reason,
            message=message,
            field=field,
            event_id=event_id,
            channel=channel,
            stage=stage,
            source=source,
            original_size=len(raw),
            original_b64=base64.b64encode(raw).decode("ascii"),
            received_at=received_at,
        )

    def original(self) -> bytes:
        """Return the original bytes, e.g. to fix and republish them."""
        return base64.b64decode(self.original_b64)
