"""The pure pipeline driven with in-memory state: records, dedup, dead letters, history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.config import load_config
from routing.contact import Contact, Decision, Target
from routing.enrich import Signals
from routing.memory import DedupSettings
from routing.policy import QueueLoad
from routing.waves import ChannelLoad, LoadState, WaveLevel
from streams.ingest import DeadLetter, Normalizer, Source
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.conftest import NOW, VALID_PAYLOADS, envelope, raw

TOPICS = TopicNames.from_settings(Settings(topic_prefix="t"))
OPEN = load_config(Path(__file__).resolve().parents[2] / "config" / "open.yaml")
CLOSED = load_config(Path(__file__).resolve().parents[2] / "config" / "closed.yaml")
SRC = Source(topic="t.contacts.raw", partition=0, offset=1)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_raw(self) -> None:
        self.events.append("raw")

    def on_contact(self, contact: Contact) -> None:
        self.events.append("contact")

    def on_dead_letter(self, dead: DeadLetter) -> None:
        self.events.append(f"dead:{dead.reason.value}:{dead.stage}")

    def on_duplicate(self, contact: Contact) -> None:
        self.events.append("duplicate")

    def on_decision(self, decision: Decision) -> None:
        self.events.append(f"decision:{decision.target.value}")


def make(recorder: Recorder | None = None, **dedup: float) -> Pipeline:
    return Pipeline(
        TOPICS,
        Normalizer(lambda: NOW),
        lambda: NOW + timedelta(milliseconds=5),
        config=lambda: OPEN,
        dedup=DedupSettings(**dedup) if dedup else None,
        observer=recorder,
    )


def test_contact_flows_to_routed_and_target_topic() -> None:
    rec = Recorder()
    p = make(rec)
    # "Where is my order" would be a trivial intent the open config gives to the IVR.
    call = {**VALID_PAYLOADS["voice"], "transcript": "Добрый день, вопрос по договору"}
    normalized = p.normalize(raw(envelope("voice", call)), SRC)
    assert normalized.topic == "t.contacts.normalized"
    contact = Contact.model_validate_json(normalized.value)
    assert normalized.key == contact.customer_key.encode()
    out = p.route(normalized.value, SRC, {})
    assert [r.topic for r in out] == ["t.contacts.routed", "t.route.queue"]
    decision = Decision.model_validate_json(out[0].value)
    assert decision.contact_id == contact.id and decision.target == Target.QUEUE
    assert decision.reply_channel == contact.channel
    assert decision.latency_seconds == 0.005
    assert rec.events == ["raw", "contact", "decision:queue"]


def test_bad_input_goes_to_dlq_keyed_by_event_id() -> None:
    rec = Recorder()
    record = make(rec).normalize(raw(envelope("chat", channel="fax")), SRC)
    assert record.topic == "t.contacts.dlq" and record.key == b"evt-chat"
    dead = orjson.loads(record.value)
    assert dead["reason"] == "unknown_channel"
    assert dead["source"] == {"topic": "t.contacts.raw", "partition": 0, "offset": 1}
    assert rec.events == ["raw", "dead:unknown_channel:normalize"]


def test_none_value_is_dead_lettered() -> None:
    assert make().normalize(None, SRC).topic == "t.contacts.dlq"


def test_retry_is_routed_once() -> None:
    rec = Recorder()
    p = make(rec)
    memory: dict = {}
    first = p.normalize(raw(envelope("chat")), SRC).value
    again = p.normalize(raw(envelope("chat")), SRC).value  # adapter retry, same event_id
    assert len(p.route(first, SRC, memory)) == 2
    assert p.route(again, SRC, memory) == []
    assert p.route(first, SRC, memory) == []  # Kafka redelivery of the same record
    assert rec.events.count("duplicate") == 2
    other = p.normalize(raw(envelope("chat", event_id="evt-2")), SRC).value
    assert len(p.route(other, SRC, memory)) == 2


def test_dedup_window_expires() -> None:
    p = make(window_seconds=60.0)
    memory: dict = {}
    first = p.normalize(raw(envelope("chat")), SRC)
    p.route(first.value, SRC, memory)
    later = Contact.model_validate_json(first.value).model_copy(
        update={"received_at": NOW + timedelta(minutes=2)}
    )
    # Outside the window a repeated event id is a new contact (an id reused much later).
    assert len(p.route(later.model_dump_json().encode(), SRC, memory)) == 2


def test_memory_is_bounded_per_customer() -> None:
    p = make(max_per_customer=3)
    memory: dict = {}
    for i in range(10):
        rec = p.normalize(raw(envelope("chat", event_id=f"e{i}")), SRC)
        p.route(rec.value, SRC, memory)
    (value,) = memory.values()
    assert len(value["seen"]) == 3


def test_undecodable_contact_is_dead_lettered_not_raised() -> None:
    rec = Recorder()
    out = make(rec).route(
        b'{"id": "x"}', Source(topic="t.contacts.normalized", partition=2, offset=9), {}
    )
    assert [r.topic for r in out] == ["t.contacts.dlq"]
    dead = orjson.loads(out[0].value)
    assert dead["reason"] == "undecodable_contact" and dead["stage"] == "route"
    assert rec.events == ["dead:undecodable_contact:route"]


# ------------------------------------------------------------------ routing with the config


class Detailed(Recorder):
    """Also implements the optional hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.scores: list[float] = []
        self.escalations: list[tuple[str, tuple[str, ...]]] = []

    def on_signals(self, contact: Contact, signals: Signals) -> None:
        self.scores.append(signals.sentiment.score)

    def on_escalation(self, decision: Decision, triggers: tuple[str, ...]) -> None:
        self.escalations.append((decision.rule_id, triggers))


def chat(text: str, event_id: str, customer: str = "a@b.example") -> dict[str, Any]:
    payload = {"session_id": "s", "text": text, "email": customer}
    return envelope("chat", payload, event_id=event_id)


def test_angry_public_post_then_call_reaches_a_senior() -> None:
    rec = Detailed()
    p = make(rec)
    memory: dict[Any, Any] = {}
    post = {
        **VALID_PAYLOADS["social_public"],
        "text": "Ужасный сервис, ненавижу вас, худшая компания",
        "customer_id": "42",
    }
    call = {**VALID_PAYLOADS["voice"], "transcript": "Добрый день, вопрос по договору"}
    call["customer_id"] = "42"
    first = p.route(p.normalize(raw(envelope("social_public", post)), SRC).value, SRC, memory)
    second = p.route(p.normalize(raw(envelope("voice", call)), SRC).value, SRC, memory)
    d1 = Decision.model_validate_json(first[0].value)
    d2 = Decision.model_validate_json(second[0].value)
    assert d1.target is Target.SENIOR and d2.target is Target.SENIOR
    assert d2.rule_id == "senior.recent_public_negative"
    assert [t for _, t in rec.escalations][1] == ("recent_public_negative",)
    assert len(rec.scores) == 2
    # Without native memory the stored value stays JSON-ready (orjson serializes it).
    (value,) = memory.values()
    assert len(orjson.loads(orjson.dumps(value))["recent"]) == 2


def test_redelivery_does_not_count_as_a_repeat() -> None:
    p = make()
    memory: dict[Any, Any] = {}
    first = p.normalize(raw(chat("Где мой заказ?", "r1")), SRC).value
    for _ in range(5):
        p.route(first, SRC, memory)
    second = p.normalize(raw(chat("Где мой заказ?", "r2")), SRC).value
    d = Decision.model_validate_json(p.route(second, SRC, memory)[0].value)
    (value,) = memory.values()
    assert len(value["recent"]) == 2 and d.target is Target.BOT  # 2 contacts: no repeat trigger


def test_load_capacity_and_hot_reload_come_from_callables() -> None:
    configs = [OPEN]
    state = [LoadState(at=0.0)]
    capacity: list[dict[str, QueueLoad]] = [{}]
    p = Pipeline(
        TOPICS,
        Normalizer(lambda: NOW),
        lambda: NOW,
        config=lambda: configs[0],
        load=lambda: state[0],
        capacity=lambda: capacity[0],
    )
    memory: dict[Any, Any] = {}

    def decide(i: int) -> Decision:
        value = p.normalize(raw(chat("Хочу отменить заказ", f"h{i}", f"u{i}@x.example")), SRC)
        return Decision.model_validate_json(p.route(value.value, SRC, memory)[0].value)

    d = decide(1)
    assert (d.queue, d.wave_level, d.config_version) == ("chat", "normal", OPEN.version)
    capacity[0] = {"chat": QueueLoad(in_flight=60)}
    assert decide(2).queue == "general"
    capacity[0] = {}
    chat_wave = ChannelLoad(
        channel="chat", at=1.0, level=WaveLevel.WAVE, level_since=1.0, episode_started_at=1.0,
        rate=9.0, baseline=1.0, ratio=9.0, window_count=900.0, warm=True,
    )  # fmt: skip
    state[0] = LoadState(at=1.0, channels={"chat": chat_wave})
    assert decide(3).wave_level == "wave"
    configs[0] = CLOSED
    d = decide(4)
    assert (d.strategy, d.config_version) == ("closed", CLOSED.version)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(VALID_PAYLOADS)),
    st.text(max_size=200),
    st.sampled_from([None, "vip", "premium"]),
)
def test_every_contact_gets_exactly_one_target(channel: str, text: str, tier: str | None) -> None:
    payload = dict(VALID_PAYLOADS[channel])
    for field in ("text", "transcript", "body", "message", "comment"):
        if field in payload:
            payload[field] = text or "x"
    if tier is not None:
        payload["customer_tier"] = tier
    p = make()
    normalized = p.normalize(raw(envelope(channel, payload)), SRC)
    if normalized.topic == "t.contacts.dlq":
        return
    out = p.route(normalized.value, SRC, {})
    assert len(out) == 2 and out[0].topic == "t.contacts.routed"
    decision = Decision.model_validate_json(out[0].value)
    assert out[1].topic == f"t.route.{decision.target.value}"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(VALID_PAYLOADS)),
            st.integers(0, 3),  # customer
            st.integers(0, 5),  # event id (repeats are redeliveries)
            st.sampled_from(["", "где мой заказ?", "ужасно, пишу третий раз", "thanks!"]),
            st.integers(0, 40 * 86400),  # seconds after NOW - 30 days
        ),
        max_size=25,
    )
)
def test_native_memory_decides_as_the_dict_memory(
    items: list[tuple[str, int, int, str, int]],
) -> None:
    # The offline router and the route stage keep CustomerMemory objects (native_memory);
    # a plain dict memory keeps JSON-ready dicts. Same contacts, same records.
    def pipeline(native: bool) -> Pipeline:
        return Pipeline(
            TOPICS,
            Normalizer(lambda: NOW + timedelta(days=60)),
            lambda: NOW,
            config=lambda: OPEN,
            native_memory=native,
        )

    native, plain = pipeline(True), pipeline(False)
    native_memory: dict[Any, Any] = {}
    plain_memory: dict[Any, Any] = {}
    for channel, customer, event, text, offset in items:
        payload = dict(VALID_PAYLOADS[channel])
        for field in ("text", "body", "transcript", "note", "comment", "message"):
            if field in payload:
                payload[field] = text or payload[field]
        for field in ("from_number", "caller_number", "phone"):
            if field in payload:
                payload[field] = f"+7916000000{customer}"
        for field in ("email", "from"):
            if field in payload:
                payload[field] = f"c{customer}@mail.example"
        if "author_handle" in payload:
            payload["author_handle"] = f"@c{customer}"
        at = NOW - timedelta(days=30) + timedelta(seconds=offset)
        message = raw(envelope(channel, payload, event_id=f"e{event}", occurred_at=at.isoformat()))
        record = native.normalize(message, SRC)
        assert record == plain.normalize(message, SRC)
        if record.topic != TOPICS.normalized:
            continue
        got = native.route(record.value, SRC, native_memory)
        assert got == plain.route(record.value, SRC, plain_memory)
    assert native_memory.keys() == plain_memory.keys()
    for key, memory in native_memory.items():
        assert memory.to_dict() == plain_memory[key]
