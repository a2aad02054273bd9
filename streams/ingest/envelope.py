"""The envelope every adapter wraps a contact in, whatever the channel."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SUPPORTED_SCHEMA_VERSIONS", "Envelope"]

SUPPORTED_SCHEMA_VERSIONS: frozenset[int] = frozenset({1})


class Envelope(BaseModel):
    """One JSON object per Kafka message (UTF-8, at most 1 MiB).

    The envelope is validated in steps by the normalizer so each failure gets its own
    reason code; this model is the published contract (JSON Schema) adapters validate against.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="unique per contact; a retry repeats it, so wavebreak routes it once"
    )
    channel: str = Field(description="one of the channel names, e.g. 'email' or 'voice'")
    occurred_at: str = Field(
        description="when the customer made contact: ISO 8601 with a UTC offset, e.g. "
        "'2026-11-23T10:15:00+03:00'"
    )
    schema_version: int = Field(description="version of this envelope and payload contract: 1")
    payload: dict[str, Any] = Field(
        description="the channel's own payload (see per-channel schemas)"
    )
