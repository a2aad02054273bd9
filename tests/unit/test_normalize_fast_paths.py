"""The normalizer's hand-rolled fast paths equal the library calls they replace."""

from __future__ import annotations

import hashlib
import re
import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.channels import Channel
from routing.contact import Contact
from streams.ingest import DeadLetter, Normalizer, Reason
from streams.ingest.identity import customer_key
from streams.ingest.language import count_cyrillic, count_latin, detect_language
from streams.ingest.normalize import _CHANNEL_BY_NAME, _CONTACT_NS, _contact_id
from tests.unit.conftest import NOW, VALID_PAYLOADS, envelope, raw


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["chat", "voice", "email"]), st.text(min_size=1, max_size=200))
def test_contact_id_is_uuid5(channel: str, event_id: str) -> None:
    assert _contact_id(channel, event_id) == str(uuid.uuid5(_CONTACT_NS, f"{channel}:{event_id}"))


@pytest.mark.parametrize("channel", sorted(VALID_PAYLOADS))
def test_contact_is_built_as_model_construct_builds_it(channel: str) -> None:
    contact = Normalizer(lambda: NOW)(raw(envelope(channel)))
    assert isinstance(contact, Contact)
    fields = {name: getattr(contact, name) for name in Contact.model_fields}
    constructed = Contact.model_construct(
        **{k: v for k, v in fields.items() if k != "schema_version"}
    )
    assert contact == constructed
    assert contact.model_fields_set == constructed.model_fields_set
    assert contact.model_dump_json() == constructed.model_dump_json()
    # and it is a valid contact: validating its dump gives it back
    assert Contact.model_validate(contact.model_dump()) == contact
    assert Contact.model_validate_json(contact.model_dump_json()) == contact
    # model_copy(update=...) (the offline router re-stamps received_at) works on it
    later = contact.model_copy(update={"received_at": contact.occurred_at})
    assert later.received_at == contact.occurred_at and contact.received_at == NOW


@pytest.mark.parametrize("channel", sorted(VALID_PAYLOADS))
def test_event_time_stamp_equals_the_re_stamped_copy(channel: str) -> None:
    # The offline router once normalized with the clock and re-stamped with model_copy;
    # the event-time normalizer builds that contact directly.
    message = raw(envelope(channel))
    stamped = Normalizer(lambda: NOW)(message)
    assert isinstance(stamped, Contact)
    copied = stamped.model_copy(update={"received_at": stamped.occurred_at})
    direct = Normalizer(lambda: NOW, event_time=True)(message)
    assert isinstance(direct, Contact)
    assert direct == copied
    assert direct.model_fields_set == copied.model_fields_set
    assert direct.model_dump_json() == copied.model_dump_json()
    # the clock still bounds the future and stamps dead letters
    late = raw(envelope(channel, occurred_at="2026-11-24T12:00:00+00:00"))
    dead = Normalizer(lambda: NOW, event_time=True)(late)
    assert isinstance(dead, DeadLetter) and dead.reason is Reason.BAD_TIMESTAMP
    assert dead.received_at == NOW


_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")
_EN_WORDS = re.compile(
    r"\b(?:the|a|an|is|are|was|my|i|you|your|to|of|and|not|no|it|this|in|on|for|with|have|"
    r"can|please|order|why|what|how|when|hi|hello|thanks|help)\b",
    re.IGNORECASE,
)


def _reference_language(text: str) -> str:
    # detect_language as first written: two findall passes counting letters.
    sample = text[:2000]
    cyr = len(_CYRILLIC.findall(sample))
    lat = len(_LATIN.findall(sample))
    if cyr == 0 and lat == 0:
        return "other"
    if cyr >= lat:
        return "ru"
    if _EN_WORDS.search(sample):
        return "en"
    return "other"


_letters = st.sampled_from(list("абвгдеёжзийклмнопрстуфхцчшщъыьэюяЁЯ abcXYZ the my 1!?,😡éßі\n"))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(_letters, max_size=120).map("".join)))
def test_language_detection_equals_reference(text: str) -> None:
    assert detect_language(text) == _reference_language(text)


def test_letter_counts_equal_the_regex_definitions_on_every_code_point() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)
    not_cyrillic = re.compile(r"[^А-Яа-яЁё]+")
    not_latin = re.compile(r"[^A-Za-z]+")
    for i in range(0, len(every), 4096):
        chunk = every[i : i + 4096]
        assert count_cyrillic(chunk) == len(not_cyrillic.sub("", chunk))
        assert count_latin(chunk) == len(not_latin.sub("", chunk))
    for ch in "АЯаяЁёAZaz":
        assert count_cyrillic(ch) + count_latin(ch) == 1


def test_language_detection_reads_only_the_head() -> None:
    text = "Где мой заказ? " * 200 + "where is my order " * 1000
    assert detect_language(text) == _reference_language(text) == "ru"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'\xef\xbb\xbf{"a": 1}', Reason.INVALID_ENVELOPE),  # BOM stripped, then parsed
        (b'{"a": "\xed\xa0\x80"}', Reason.NOT_UTF8),  # encoded surrogate
        (b'{"a": "\xc0\xaf"}', Reason.NOT_UTF8),  # overlong
        (b'{"a": 1} \xff', Reason.NOT_UTF8),
        (b'{"a": 1', Reason.NOT_JSON),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b'\xef\xbb\xbf"x"', Reason.NOT_AN_OBJECT),
        (b"", Reason.NOT_JSON),
    ],
)
def test_bytes_fast_path_leaves_every_rejection_to_the_exact_checks(
    data: bytes, reason: Reason
) -> None:
    dead = Normalizer(lambda: NOW)(data)
    assert isinstance(dead, DeadLetter)
    assert dead.reason == reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=40).map(str.encode))
def test_bytes_fast_path_parses_as_decode_then_parse(data: bytes) -> None:
    norm = Normalizer(lambda: NOW)
    try:
        text = data.decode("utf-8")
        expected = orjson.loads(text[1:] if text.startswith("\ufeff") else text)
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        expected = None
    try:
        got = norm._parse(data)
    except Exception:
        got = None
    assert got == (expected if isinstance(expected, dict) else None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.binary(max_size=80))
def test_customer_key_is_keyed_blake2b(value: str, salt: bytes) -> None:
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=10, key=salt[:64]).hexdigest()
    assert customer_key("phone", value, salt) == f"phone:{digest}"
    assert customer_key("email", value, salt) == f"email:{digest}"  # a copy, never reused


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.sampled_from([*(c.value for c in Channel), *(c.name for c in Channel)]), st.text())
)
def test_channel_lookup_equals_the_enum_call(name: str) -> None:
    try:
        expected: Channel | None = Channel(name)
    except ValueError:
        expected = None
    assert _CHANNEL_BY_NAME.get(name) is expected
