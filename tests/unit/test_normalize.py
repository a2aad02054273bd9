"""Normalizer: every channel's happy path, edge cases, and every dead-letter reason."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from routing.channels import Channel
from routing.contact import Contact
from streams.ingest import DeadLetter, Normalizer, Reason, Source
from tests.unit.conftest import NOW, VALID_PAYLOADS, envelope, raw


def contact_of(n: Normalizer, env: dict) -> Contact:
    result = n(raw(env))
    assert isinstance(result, Contact), getattr(result, "message", result)
    return result


def dead_of(n: Normalizer, data: bytes) -> DeadLetter:
    result = n(data, Source(topic="t", partition=3, offset=17))
    assert isinstance(result, DeadLetter), result
    return result


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_every_channel_happy_path(normalizer: Normalizer, channel: str) -> None:
    c = contact_of(normalizer, envelope(channel))
    assert c.channel == channel
    assert c.event_id == f"evt-{channel}"
    assert c.received_at == NOW
    assert c.occurred_at == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)  # +03:00 -> UTC
    assert c.text_length == len(c.text)
    assert c.customer_key.split(":")[0] in {"id", "phone", "email", "handle", "anon"}


def test_channel_traits(normalizer: Normalizer) -> None:
    voice = contact_of(normalizer, envelope("voice"))
    assert (voice.traits.voice, voice.traits.synchronous, voice.traits.public) == (
        True,
        True,
        False,
    )
    post = contact_of(normalizer, envelope("social_public"))
    assert post.traits.public and not post.traits.voice
    email = contact_of(normalizer, envelope("email"))
    assert not email.traits.synchronous
    forum = contact_of(normalizer, envelope("forum"))
    assert forum.traits.public


@pytest.mark.parametrize(
    "number",
    ["8 (916) 123-45-67", "+7 916 123 45 67", "79161234567", "+7(916)1234567", "9161234567"],
)
def test_phone_formats_resolve_to_one_customer(normalizer: Normalizer, number: str) -> None:
    base = contact_of(normalizer, envelope("sms", {"from_number": "+79161234567", "text": "x"}))
    other = contact_of(normalizer, envelope("voice", {"call_id": "c", "caller_number": number}))
    assert other.customer_key == base.customer_key
    assert base.customer_key.startswith("phone:")
    assert "916" not in base.customer_key  # pseudonymous: no digits of the number leak


def test_same_person_across_channels(normalizer: Normalizer) -> None:
    call = contact_of(normalizer, envelope("voice"))
    messenger = contact_of(normalizer, envelope("messenger"))
    callback = contact_of(normalizer, envelope("callback"))
    assert call.customer_key == messenger.customer_key == callback.customer_key


def test_email_is_case_folded(normalizer: Normalizer) -> None:
    a = contact_of(normalizer, envelope("email"))
    payload = dict(VALID_PAYLOADS["web_form"], email="  ivan.petrov@mail.example ")
    b = contact_of(normalizer, envelope("web_form", payload))
    assert a.customer_key == b.customer_key


def test_handle_ignores_at_sign_and_case(normalizer: Normalizer) -> None:
    post = contact_of(normalizer, envelope("social_public"))
    dm = contact_of(normalizer, envelope("social_private"))
    assert post.customer_key == dm.customer_key
    assert post.customer_key.startswith("handle:")


def test_explicit_customer_id_wins(normalizer: Normalizer) -> None:
    a = contact_of(normalizer, envelope("email", dict(VALID_PAYLOADS["email"], customer_id="C42")))
    b = contact_of(normalizer, envelope("voice", dict(VALID_PAYLOADS["voice"], customer_id="C42")))
    assert a.customer_key == b.customer_key
    assert a.customer_key.startswith("id:")


def test_anonymous_chat_is_keyed_by_session(normalizer: Normalizer) -> None:
    c1 = contact_of(normalizer, envelope("chat", {"session_id": "s-9", "text": "hi"}, event_id="1"))
    c2 = contact_of(normalizer, envelope("chat", {"session_id": "s-9", "text": "yo"}, event_id="2"))
    assert c1.customer_key == c2.customer_key
    assert c1.customer_key.startswith("anon:")


def test_salt_changes_keys() -> None:
    plain = Normalizer(lambda: NOW)(raw(envelope("sms")))
    salted = Normalizer(lambda: NOW, identity_salt=b"pepper")(raw(envelope("sms")))
    assert isinstance(plain, Contact) and isinstance(salted, Contact)
    assert plain.customer_key != salted.customer_key


def test_email_text_is_subject_and_body_without_quotes(normalizer: Normalizer) -> None:
    body = "Where is my refund?\n> On Monday you wrote:\n> we will refund in 3 days\nThanks"
    payload = dict(VALID_PAYLOADS["email"], subject="Refund", body=body)
    c = contact_of(normalizer, envelope("email", payload))
    assert c.text == "Refund\n\nWhere is my refund?\nThanks"
    assert c.language == "en"
    assert c.thread_id == "th-9"


def test_voice_without_transcript_has_empty_text(normalizer: Normalizer) -> None:
    c = contact_of(normalizer, envelope("voice", {"call_id": "c", "caller_number": "+79161234567"}))
    assert c.text == "" and c.text_length == 0
    assert c.language == "other"
    assert c.meta["has_transcript"] is False
    assert c.meta["wait_seconds"] == 0.0


def test_meta_carries_routing_facts_not_pii(normalizer: Normalizer) -> None:
    post = contact_of(normalizer, envelope("social_public"))
    assert post.meta == {
        "network": "vk",
        "kind": "comment",
        "is_reply": False,
        "author_followers": 1200,
    }
    visit = contact_of(normalizer, envelope("in_person"))
    assert visit.meta["wait_seconds"] == 720.0 and visit.meta["topic"] == "cards"
    flat = orjson.dumps([post.meta, visit.meta]).decode()
    assert "Ivan" not in flat and "@" not in flat


def test_language_detection_and_hint(normalizer: Normalizer) -> None:
    ru = contact_of(
        normalizer, envelope("chat", {"session_id": "s", "text": "Не работает интернет"})
    )
    en = contact_of(normalizer, envelope("chat", {"session_id": "s", "text": "My card is blocked"}))
    translit = contact_of(normalizer, envelope("chat", {"session_id": "s", "text": "ne rabotaet"}))
    mixed = contact_of(
        normalizer,
        envelope("chat", {"session_id": "s", "text": "Мой order не пришёл, tracking пуст"}),
    )
    hinted = contact_of(
        normalizer, envelope("chat", {"session_id": "s", "text": "ok", "language": "ru"})
    )
    assert (ru.language, en.language, translit.language) == ("ru", "en", "other")
    assert mixed.language == "ru"
    assert hinted.language == "ru"


def test_emoji_only_and_empty_text(normalizer: Normalizer) -> None:
    emoji = contact_of(
        normalizer, envelope("messenger", dict(VALID_PAYLOADS["messenger"], text="😡😡😡"))
    )
    assert emoji.text == "😡😡😡" and emoji.text_length == 3 and emoji.language == "other"
    empty = contact_of(normalizer, envelope("sms", {"from_number": "+79161234567", "text": ""}))
    assert empty.text == "" and empty.text_length == 0


def test_control_characters_are_removed(normalizer: Normalizer) -> None:
    c = contact_of(
        normalizer, envelope("sms", {"from_number": "+79161234567", "text": "a\x00b\x1bc\nd"})
    )
    assert c.text == "a b c\nd"


def test_optional_fields_may_be_missing(normalizer: Normalizer) -> None:
    minimal = {
        "email": {"from": "a@b.example"},
        "web_form": {"form_id": "f", "message": "m"},
        "callback": {"phone": "+79161234567"},
        "in_person": {
            "location_kind": "store",
            "location_id": "s1",
            "ticket_number": "1",
            "ticket_topic": "returns",
        },
    }
    for channel, payload in minimal.items():
        contact_of(normalizer, envelope(channel, payload))


def test_contact_id_is_stable_for_retries(normalizer: Normalizer) -> None:
    a = contact_of(normalizer, envelope("chat"))
    b = contact_of(normalizer, envelope("chat"))
    c = contact_of(normalizer, envelope("chat", event_id="other"))
    assert a.id == b.id != c.id


def test_bom_is_accepted(normalizer: Normalizer) -> None:
    assert isinstance(normalizer("\ufeff".encode() + raw(envelope("chat"))), Contact)


# --- dead letters -------------------------------------------------------------------------


BAD_INPUTS: list[tuple[str, bytes, Reason, str | None]] = [
    ("not utf-8", b'{"event_id": "\xff\xfe"}', Reason.NOT_UTF8, None),
    ("not json", b"hello, wavebreak", Reason.NOT_JSON, None),
    ("empty", b"", Reason.NOT_JSON, None),
    ("json array", b"[1, 2, 3]", Reason.NOT_AN_OBJECT, None),
    ("json string", b'"just a string"', Reason.NOT_AN_OBJECT, None),
    (
        "missing event_id",
        raw({k: v for k, v in envelope("chat").items() if k != "event_id"}),
        Reason.INVALID_ENVELOPE,
        "event_id",
    ),
    ("numeric event_id", raw(envelope("chat", event_id=123)), Reason.INVALID_ENVELOPE, "event_id"),
    ("unknown envelope key", raw(envelope("chat", trace="x")), Reason.INVALID_ENVELOPE, "trace"),
    ("unknown channel", raw(envelope("chat", channel="fax")), Reason.UNKNOWN_CHANNEL, "channel"),
    (
        "schema_version 2",
        raw(envelope("chat", schema_version=2)),
        Reason.UNSUPPORTED_SCHEMA_VERSION,
        "schema_version",
    ),
    (
        "schema_version string",
        raw(envelope("chat", schema_version="1")),
        Reason.INVALID_ENVELOPE,
        "schema_version",
    ),
    (
        "timestamp words",
        raw(envelope("chat", occurred_at="yesterday")),
        Reason.BAD_TIMESTAMP,
        "occurred_at",
    ),
    (
        "naive timestamp",
        raw(envelope("chat", occurred_at="2026-11-23T10:00:00")),
        Reason.BAD_TIMESTAMP,
        "occurred_at",
    ),
    (
        "epoch number",
        raw(envelope("chat", occurred_at=1763900000)),
        Reason.BAD_TIMESTAMP,
        "occurred_at",
    ),
    (
        "far future",
        raw(envelope("chat", occurred_at="2031-01-01T00:00:00Z")),
        Reason.BAD_TIMESTAMP,
        "occurred_at",
    ),
    (
        "payload not object",
        raw(envelope("chat", payload=["x"])),
        Reason.SCHEMA_VIOLATION,
        "payload",
    ),
    (
        "missing required",
        raw(envelope("sms", {"from_number": "+79161234567"})),
        Reason.SCHEMA_VIOLATION,
        "payload.text",
    ),
    (
        "bad email",
        raw(envelope("email", {"from": "not-an-email"})),
        Reason.SCHEMA_VIOLATION,
        "payload.from",
    ),
    (
        "unknown payload key",
        raw(envelope("chat", {"session_id": "s", "text": "t", "x": 1})),
        Reason.SCHEMA_VIOLATION,
        "payload.x",
    ),
    (
        "bad nested timestamp",
        raw(envelope("callback", {"phone": "+79161234567", "requested_for": "soon"})),
        Reason.BAD_TIMESTAMP,
        "payload.requested_for",
    ),
    (
        "negative wait",
        raw(
            envelope("voice", {"call_id": "c", "caller_number": "+79161234567", "wait_seconds": -1})
        ),
        Reason.SCHEMA_VIOLATION,
        "payload.wait_seconds",
    ),
]


@pytest.mark.parametrize(
    ("name", "data", "reason", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_dead_lettered_with_reason(
    normalizer: Normalizer, name: str, data: bytes, reason: Reason, field: str | None
) -> None:
    dead = dead_of(normalizer, data)
    assert dead.reason == reason, dead.message
    assert dead.field == field
    assert dead.original() == data
    assert base64.b64decode(dead.original_b64) == data and dead.original_size == len(data)
    assert dead.source == Source(topic="t", partition=3, offset=17)
    assert dead.message and dead.received_at == NOW
    if field:
        assert field.split(".")[-1] in dead.message


def test_too_large() -> None:
    n = Normalizer(lambda: NOW, max_bytes=2048)
    big = raw(envelope("email", dict(VALID_PAYLOADS["email"], body="x" * 5000)))
    dead = dead_of(n, big)
    assert dead.reason == Reason.TOO_LARGE and "2048" in dead.message


def test_dead_letter_message_never_quotes_customer_data(normalizer: Normalizer) -> None:
    secret = "ivan.secret.mailbox"
    dead = dead_of(normalizer, raw(envelope("email", {"from": secret})))
    assert secret not in dead.message
    dead = dead_of(normalizer, raw(envelope("chat", channel="+79161234567")))
    assert "9161234567" not in dead.message


def test_dead_letter_keeps_event_id_and_known_channel(normalizer: Normalizer) -> None:
    dead = dead_of(normalizer, raw(envelope("sms", {"from_number": "+79161234567"})))
    assert dead.event_id == "evt-sms" and dead.channel == "sms"
    dead = dead_of(normalizer, raw(envelope("chat", channel="fax")))
    assert dead.channel is None
