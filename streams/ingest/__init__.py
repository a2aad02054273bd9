"""Ingest contract (envelope + channel payloads) and the pure normalizer."""

from streams.ingest.deadletter import DeadLetter, Reason, Source
from streams.ingest.envelope import SUPPORTED_SCHEMA_VERSIONS, Envelope
from streams.ingest.normalize import MAX_MESSAGE_BYTES, Normalizer, normalize
from streams.ingest.payloads import PAYLOAD_MODELS, payload_model

__all__ = [
    "MAX_MESSAGE_BYTES",
    "PAYLOAD_MODELS",
    "SUPPORTED_SCHEMA_VERSIONS",
    "DeadLetter",
    "Envelope",
    "Normalizer",
    "Reason",
    "Source",
    "normalize",
    "payload_model",
]
