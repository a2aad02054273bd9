"""The normalizer: raw envelope bytes -> Contact, or a DeadLetter with the reason; never raises."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from routing.channels import Channel, traits_of
from routing.contact import Contact, ContactTraits
from streams.ingest.deadletter import DeadLetter, Reason, Source
from streams.ingest.identity import (
    customer_key,
    normalize_email,
    normalize_handle,
    normalize_phone,
)
from streams.ingest.language import detect_language
from streams.ingest.payloads import (
    CallbackRequest,
    ChatMessage,
    EmailMessage,
    ForumPost,
    InPersonVisit,
    MessengerMessage,
    PayloadBase,
    SmsMessage,
    SocialPrivateMessage,
    SocialPublicPost,
    VoiceCall,
    WebForm,
    payload_model,
)

__all__ = ["MAX_MESSAGE_BYTES", "Normalizer", "normalize"]

MAX_MESSAGE_BYTES = 1024 * 1024
_ENVELOPE_KEYS = frozenset({"event_id", "channel", "occurred_at", "schema_version", "payload"})
_CHANNEL_BY_NAME: dict[str, Channel] = {c.value: c for c in Channel}
_CONTACT_NS = uuid.UUID("6f1d2c1e-6a53-4d0e-9a43-2f7b1b9e0c11")
# Control characters other than tab and newline break terminals and downstream UIs.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_QUOTED_LINE = re.compile(r"^\s*>.*$\n?", re.MULTILINE)
_TIMESTAMP_ERRORS = ("datetime", "timezone", "date_")
# Clocks drift and adapters buffer; a contact "from the future" beyond this is a bad clock.
_MAX_FUTURE = timedelta(hours=1)
_MIN_YEAR = 2000
_EVENT_ID_PEEK = re.compile(rb'"event_id"\s*:\s*"([^"\\]{1,200})"')


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Reject(Exception):
    def __init__(self, reason: Reason, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


class Normalizer:
    """Turns raw adapter messages into contacts; configured once, called per message.

    Args:
        clock: returns the current aware datetime (the `received_at` stamp); injected so
            tests and the offline simulator control time.
        max_bytes: messages larger than this are dead-lettered as `too_large`.
        phone_region: default region for phone numbers without a country code.
        identity_salt: keyed-hash salt for customer keys (set it per deployment so keys
            cannot be matched to phone numbers by hashing guesses).
        event_time: stamp contacts `received_at = occurred_at` (offline replays, where
            event time is the only time) instead of the clock's time; the clock still
            bounds "from the future" and stamps dead letters.
    """

    __slots__ = ("_clock", "_event_time", "_max_bytes", "_region", "_salt")

    def __init__(
        self,
        clock: Callable[[], datetime] = _utcnow,
        *,
        max_bytes: int = MAX_MESSAGE_BYTES,
        phone_region: str = "RU",
        identity_salt: bytes = b"",
        event_time: bool = False,
    ) -> None:
        self._clock = clock
        self._event_time = event_time
        self._max_bytes = max_bytes
        self._region = phone_region
        self._salt = identity_salt

    def __call__(self, raw: bytes, source: Source | None = None) -> Contact | DeadLetter:
        """Normalize one raw message; returns a Contact or a DeadLetter, never raises."""
        received_at = self._clock()
        event_id: str | None = None
        channel: str | None = None
        try:
            envelope = self._parse(raw)
            event_id = _opt_str(envelope.get("event_id"))
            channel = _opt_str(envelope.get("channel"))
            return self._contact(envelope, received_at)
        except _Reject as rej:
            if event_id is None and rej.reason in (Reason.TOO_LARGE, Reason.NOT_UTF8):
                event_id = _peek_event_id(raw)
            return DeadLetter.of(
                raw,
                rej.reason,
                rej.message,
                field=rej.field,
                event_id=event_id,
                channel=channel if channel in Channel.__members__.values() else None,
                source=source,
                received_at=received_at,
            )
        except Exception as exc:  # a bug must not stop the worker: dead-letter it, loudly
            return DeadLetter.of(
                raw,
                Reason.INTERNAL_ERROR,
                f"normalizer failed with {type(exc).__name__}; this is a wavebreak bug",
                event_id=event_id,
                source=source,
                received_at=received_at,
            )

    def _parse(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > self._max_bytes:
            raise _Reject(
                Reason.TOO_LARGE, f"message is {len(raw)} bytes; the limit is {self._max_bytes}"
            )
        if type(raw) is bytes:
            # Fast path: orjson reads the bytes directly and is strict about UTF-8 and
            # rejects a BOM, so whatever it accepts decodes to the same value below; for
            # anything it rejects the steps below find the exact reason.
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
            else:
                if isinstance(value, dict):
                    return value
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(
                Reason.NOT_UTF8, f"message is not valid UTF-8 at byte {exc.start}"
            ) from None
        if text.startswith("\ufeff"):  # a BOM from Windows tooling is harmless; strip it
            text = text[1:]
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise _Reject(
                Reason.NOT_JSON, f"message is not JSON: {exc.msg} at position {exc.pos}"
            ) from None
        if not isinstance(value, dict):
            raise _Reject(
                Reason.NOT_AN_OBJECT,
                f"message must be a JSON object (the envelope), got {type(value).__name__}",
            )
        return value

    def _contact(self, env: dict[str, Any], received_at: datetime) -> Contact:
        unknown = sorted(set(env) - _ENVELOPE_KEYS) if not _ENVELOPE_KEYS.issuperset(env) else ()
        if unknown:
            raise _Reject(
                Reason.INVALID_ENVELOPE,
                f"unknown envelope field(s) {unknown[:5]}; allowed: {sorted(_ENVELOPE_KEYS)}",
                field=str(unknown[0])[:100],
            )
        event_id = env.get("event_id")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 200:
            raise _Reject(
                Reason.INVALID_ENVELOPE,
                "event_id is required: a non-empty string of at most 200 characters",
                field="event_id",
            )
        version = env.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise _Reject(
                Reason.INVALID_ENVELOPE,
                "schema_version is required: an integer (1)",
                "schema_version",
            )
        if version != 1:
            raise _Reject(
                Reason.UNSUPPORTED_SCHEMA_VERSION,
                f"schema_version {version} is not supported; this worker understands [1]",
                "schema_version",
            )
        channel_name = env.get("channel")
        if not isinstance(channel_name, str):
            raise _Reject(Reason.INVALID_ENVELOPE, "channel is required: a string", "channel")
        channel = _CHANNEL_BY_NAME.get(channel_name)  # Channel(name), minus the enum call
        if channel is None:
            raise _Reject(
                Reason.UNKNOWN_CHANNEL,
                f"unknown channel; expected one of {[c.value for c in Channel]}",
                "channel",
            )
        occurred_at = _parse_timestamp(env.get("occurred_at"), received_at)
        payload_raw = env.get("payload")
        if not isinstance(payload_raw, dict):
            raise _Reject(Reason.SCHEMA_VIOLATION, "payload is required: a JSON object", "payload")
        try:
            payload = payload_model(channel).model_validate(payload_raw)
        except ValidationError as exc:
            raise _from_validation(exc, channel) from None
        stamp = occurred_at if self._event_time else received_at
        return self._build(event_id, channel, occurred_at, stamp, payload)

    def _build(
        self,
        event_id: str,
        channel: Channel,
        occurred_at: datetime,
        received_at: datetime,
        payload: PayloadBase,
    ) -> Contact:
        text, thread_id, meta = _extract(payload)
        text = _clean(text)
        language = payload.language or detect_language(text)
        # The parts are validated already (payload model, parsed timestamps, enum channel):
        # constructing without re-validation halves the cost of this hot path.
        return _new_contact(
            {
                "id": _contact_id(channel.value, event_id),
                "event_id": event_id,
                "channel": channel,
                "traits": _TRAITS[channel],
                "customer_key": self._customer_key(channel, event_id, thread_id, payload),
                "customer_tier": (
                    payload.customer_tier.casefold() if payload.customer_tier else None
                ),
                "language": language,
                "text": text,
                "text_length": len(text),
                "thread_id": thread_id,
                "occurred_at": occurred_at,
                "received_at": received_at,
                "schema_version": 1,
                "meta": meta,
            }
        )

    def _customer_key(
        self, channel: Channel, event_id: str, thread_id: str | None, p: PayloadBase
    ) -> str:
        # Strongest identity first: a CRM id beats a phone, a phone beats an email (people
        # share family emails less often than they change them), an email beats a handle.
        if p.customer_id:
            return customer_key("id", p.customer_id.strip(), self._salt)
        phone, email, handle = _identity(p)
        if phone:
            return customer_key("phone", normalize_phone(phone, self._region), self._salt)
        if email:
            return customer_key("email", normalize_email(email), self._salt)
        if handle:
            return customer_key("handle", normalize_handle(*handle), self._salt)
        # Anonymous: keep one conversation together at least.
        return customer_key("anon", f"{channel.value}:{thread_id or event_id}", self._salt)


# `Contact.model_construct` minus its per-field default handling (about 5 us): every field
# is given, in declaration order (the serializer writes them in __dict__ order), and the
# fields set are the ones model_construct would record (all but the defaulted version).
_CONTACT_FIELDS_SET = frozenset(Contact.model_fields) - {"schema_version"}
_new_object = object.__new__
_set = object.__setattr__


def _new_contact(values: dict[str, Any]) -> Contact:
    """Build a Contact from already-validated parts (a unit test checks it validates equal)."""
    contact = _new_object(Contact)
    _set(contact, "__dict__", values)
    _set(contact, "__pydantic_fields_set__", set(_CONTACT_FIELDS_SET))
    _set(contact, "__pydantic_extra__", None)
    _set(contact, "__pydantic_private__", None)
    return contact


# uuid5 computed directly: SHA-1 of namespace + name with the version and variant bits set,
# formatted once from the hex digest (uuid.uuid5 + str() builds two objects on the way).
_CONTACT_NS_SHA1 = hashlib.sha1(_CONTACT_NS.bytes, usedforsecurity=False)
_VARIANT = {f"{d:x}": f"{(d & 0x3) | 0x8:x}" for d in range(16)}


def _contact_id(channel: str, event_id: str) -> str:
    """str(uuid.uuid5(_CONTACT_NS, f"{channel}:{event_id}")), a few times faster."""
    h = _CONTACT_NS_SHA1.copy()
    h.update(f"{channel}:{event_id}".encode())
    x = h.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


def _peek_event_id(raw: bytes) -> str | None:
    # An oversized or mis-encoded message is not parsed, but its event_id usually sits at the
    # start; finding it lets the operator match the dead letter to the adapter's logs.
    match = _EVENT_ID_PEEK.search(raw[:4096])
    return match.group(1).decode("utf-8", "replace") if match else None


def _opt_str(value: object) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _parse_timestamp(value: object, received_at: datetime) -> datetime:
    if value is None:
        raise _Reject(Reason.INVALID_ENVELOPE, "occurred_at is required", "occurred_at")
    if not isinstance(value, str):
        raise _Reject(
            Reason.BAD_TIMESTAMP,
            "occurred_at must be an ISO 8601 string with a UTC offset, "
            "e.g. 2026-11-23T10:15:00+03:00",
            "occurred_at",
        )
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Reject(
            Reason.BAD_TIMESTAMP,
            "occurred_at is not an ISO 8601 timestamp (e.g. 2026-11-23T10:15:00+03:00)",
            "occurred_at",
        ) from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise _Reject(
            Reason.BAD_TIMESTAMP,
            "occurred_at has no UTC offset; add one (e.g. +03:00 or Z) so it is unambiguous",
            "occurred_at",
        )
    ts = ts.astimezone(UTC)
    if ts.year < _MIN_YEAR or ts > received_at + _MAX_FUTURE:
        raise _Reject(
            Reason.BAD_TIMESTAMP,
            f"occurred_at is implausible (before {_MIN_YEAR} or more than "
            f"{int(_MAX_FUTURE.total_seconds() // 60)} minutes in the future): "
            "check the adapter's clock",
            "occurred_at",
        )
    return ts


def _from_validation(exc: ValidationError, channel: Channel) -> _Reject:
    errors = exc.errors(include_input=False, include_url=False, include_context=False)
    first = errors[0]
    path = ".".join(["payload", *(str(p) for p in first["loc"])])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    reason = (
        Reason.BAD_TIMESTAMP
        if first["type"].startswith(_TIMESTAMP_ERRORS)
        else Reason.SCHEMA_VIOLATION
    )
    return _Reject(reason, f"{channel.value} {path}: {first['msg']}{more}", path)


def _clean(text: str) -> str:
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _join(*parts: str | None) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def _extract(p: PayloadBase) -> tuple[str, str | None, dict[str, str | int | float | bool]]:
    """Return (text, thread id, routing meta) for a payload; meta never holds PII."""
    if isinstance(p, VoiceCall):
        meta: dict[str, str | int | float | bool] = {
            "wait_seconds": p.wait_seconds,
            "ivr_path": "/".join(p.ivr_path)[:200],
            "has_transcript": p.transcript is not None,
        }
        return p.transcript or "", p.call_id, meta
    if isinstance(p, CallbackRequest):
        meta = {"origin": p.origin}
        if p.topic:
            meta["topic"] = p.topic[:100]
        return _join(p.topic, p.comment), None, meta
    if isinstance(p, ChatMessage):
        return p.text, p.session_id, {}
    if isinstance(p, EmailMessage):
        # Quoted history ("> ...") is our own earlier answer or an old message: it is not
        # what the customer wrote now and must not make a short reply look like a long letter.
        body = _QUOTED_LINE.sub("", p.body)
        thread = p.thread_id or p.in_reply_to or p.message_id
        meta = {"attachments": p.attachments, "is_reply": p.in_reply_to is not None}
        return _join(p.subject, body), thread, meta
    if isinstance(p, SmsMessage):
        return p.text, None, {}
    if isinstance(p, SocialPublicPost):
        meta = {
            "network": p.network.casefold()[:50],
            "kind": p.kind,
            "is_reply": p.reply_to is not None,
        }
        if p.author_followers is not None:
            meta["author_followers"] = p.author_followers
        return p.text, p.reply_to or p.post_id, meta
    if isinstance(p, SocialPrivateMessage):
        return p.text, p.conversation_id, {"network": p.network.casefold()[:50]}
    if isinstance(p, MessengerMessage):
        return p.text, p.chat_id, {"network": p.messenger.casefold()[:50]}
    if isinstance(p, WebForm):
        meta = {"form_id": p.form_id[:100], "has_order": p.order_id is not None}
        if p.topic:
            meta["topic"] = p.topic[:100]
        return _join(p.subject, p.message), None, meta
    if isinstance(p, ForumPost):
        return _join(p.title, p.text), p.thread_id, {"network": p.forum.casefold()[:50]}
    if isinstance(p, InPersonVisit):
        meta = {
            "location_kind": p.location_kind,
            "location_id": p.location_id[:100],
            "topic": p.ticket_topic[:100],
            "wait_seconds": p.wait_minutes * 60.0,
        }
        return p.note or "", p.ticket_number, meta
    raise TypeError(f"no extractor for {type(p).__name__}")


def _identity(p: PayloadBase) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """Return (phone, email, (network, handle)) the payload carries, strongest first."""
    if isinstance(p, VoiceCall):
        return p.caller_number, None, None
    if isinstance(p, CallbackRequest):
        return p.phone, None, None
    if isinstance(p, SmsMessage):
        return p.from_number, None, None
    if isinstance(p, EmailMessage):
        return None, p.from_, None
    if isinstance(p, ChatMessage | WebForm):
        return p.phone, p.email, None
    if isinstance(p, MessengerMessage):
        return p.phone, None, (p.messenger, p.user_handle) if p.user_handle else None
    if isinstance(p, SocialPublicPost | SocialPrivateMessage):
        return None, None, (p.network, p.author_handle)
    if isinstance(p, ForumPost):
        return None, None, (p.forum, p.author_handle)
    if isinstance(p, InPersonVisit):
        return p.phone, None, None
    return None, None, None


_TRAITS = {
    ch: ContactTraits(voice=t.voice, synchronous=t.synchronous, public=t.public)
    for ch in Channel
    for t in (traits_of(ch),)
}
_default = Normalizer()


def normalize(raw: bytes, source: Source | None = None) -> Contact | DeadLetter:
    """Normalize with default settings and the wall clock (see `Normalizer` to configure)."""
    return _default(raw, source)
