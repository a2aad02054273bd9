"""Property tests: any bytes or JSON in, and the normalizer gives a contact or a dead letter."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.channels import Channel
from routing.contact import Contact
from streams.ingest import DeadLetter, Normalizer, Reason
from tests.unit.conftest import NOW, VALID_PAYLOADS

normalizer = Normalizer(lambda: NOW)
# orjson (like Kafka clients in other languages) only represents 64-bit integers.
ints = st.integers(-(2**63), 2**63 - 1)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=15), children, max_size=6)
    ),
    max_leaves=25,
)


def check(data: bytes) -> Contact | DeadLetter:
    result = normalizer(data)
    assert isinstance(result, Contact | DeadLetter)
    if isinstance(result, DeadLetter):
        # internal_error means a bug in the normalizer, never a property of the input
        assert result.reason != Reason.INTERNAL_ERROR, result.message
        assert result.original() == data
    else:
        assert result.text_length == len(result.text)
    return result


@given(st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@given(json_values)
def test_arbitrary_json(value: object) -> None:
    check(orjson.dumps(value))


envelopes = st.fixed_dictionaries(
    {
        "event_id": st.one_of(st.text(max_size=250), ints, st.none()),
        "channel": st.one_of(st.sampled_from([c.value for c in Channel]), st.text(max_size=12)),
        "occurred_at": st.one_of(
            st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
            st.text(max_size=30),
            ints,
        ),
        "schema_version": st.one_of(st.just(1), ints, st.text(max_size=3)),
        "payload": st.one_of(
            st.dictionaries(st.text(max_size=15), json_values, max_size=8), json_values
        ),
    },
    optional={"extra": json_values},
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(envelopes)
def test_arbitrary_envelopes(env: dict) -> None:
    check(orjson.dumps(env))


@st.composite
def mutated_valid(draw: st.DrawFn) -> dict:
    channel = draw(st.sampled_from(list(VALID_PAYLOADS)))
    payload = dict(VALID_PAYLOADS[channel])
    key = draw(st.sampled_from(sorted(payload)))
    payload[key] = draw(json_values)
    return {
        "event_id": "e",
        "channel": channel,
        "occurred_at": "2026-11-23T10:00:00Z",
        "schema_version": 1,
        "payload": payload,
    }


@given(mutated_valid())
def test_valid_envelopes_with_one_field_mutated(env: dict) -> None:
    check(orjson.dumps(env))


@given(st.text(max_size=500))
def test_any_text_in_a_valid_envelope_is_a_contact(text: str) -> None:
    env = {
        "event_id": "e",
        "channel": "chat",
        "occurred_at": "2026-11-23T10:00:00Z",
        "schema_version": 1,
        "payload": {"session_id": "s", "text": text},
    }
    assert isinstance(check(orjson.dumps(env)), Contact)


def test_integer_beyond_64_bits_is_dead_lettered() -> None:
    data = b'{"event_id": "e", "schema_version": 123456789012345678901234567890}'
    assert isinstance(check(data), DeadLetter)
