"""The pure pipeline driven with in-memory state: records, dedup, dead letters, history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson

from routing.config import load_config
from routing.contact import Contact, Decision, Target
from routing.memory import DedupSettings
from streams.ingest import DeadLetter, Normalizer, Source
from streams.pipeline import Pipeline
from streams.settings import Settings
from streams.topics import TopicNames
from tests.unit.conftest import NOW, VALID_PAYLOADS, envelope, raw

TOPICS = TopicNames.from_settings(Settings(topic_prefix="t"))
OPEN = load_config(Path(__file__).resolve().parents[2] / "config" / "open.yaml")
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
