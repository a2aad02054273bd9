"""End to end on the embedded broker: every channel and bad input in, routed or dead-lettered."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from routing.channels import Channel
from streams.embedded_broker import EmbeddedBroker
from tests.integration.workers import ROOT, WorkerProcess, drain
from tests.unit.conftest import envelope, raw

VALID = [raw(envelope(c.value, event_id=f"ok-{c.value}")) for c in Channel]
# (line, expected reason); lines without a parseable event_id are matched by reason count.
BAD: list[tuple[bytes, str]] = [
    (b'{"event_id": "bad-utf8", "x": "\xff\xfe"}', "not_utf8"),
    (b"this is not json", "not_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (
        raw(
            envelope(
                "chat",
                event_id="bad-oversize",
                payload={"session_id": "s", "text": "x" * 1_100_000},
            )
        ),
        "too_large",
    ),
    (raw(envelope("chat", event_id="bad-channel", channel="carrier_pigeon")), "unknown_channel"),
    (raw(envelope("chat", event_id="bad-version", schema_version=7)), "unsupported_schema_version"),
    (raw(envelope("chat", event_id="bad-time", occurred_at="half past nine")), "bad_timestamp"),
    (
        raw(envelope("chat", event_id="bad-naive", occurred_at="2026-11-23T10:00:00")),
        "bad_timestamp",
    ),
    (
        raw(envelope("sms", {"from_number": "+79161234567"}, event_id="bad-missing")),
        "schema_violation",
    ),
    (raw(envelope("email", {"from": "nobody"}, event_id="bad-email")), "schema_violation"),
    (raw({k: v for k, v in envelope("chat").items() if k != "event_id"}), "invalid_envelope"),
    (raw(envelope("chat", event_id="bad-extra", trace_id="t")), "invalid_envelope"),
]
RETRY = raw(envelope("chat", event_id="ok-chat"))  # an adapter retry of a valid contact


@pytest.fixture(scope="module")
def worker(broker: EmbeddedBroker):
    with WorkerProcess(broker) as w:
        yield w


def test_mixed_batch_is_routed_or_dead_lettered(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path
) -> None:
    lines = [*VALID, *(b for b, _ in BAD), RETRY]
    jsonl = tmp_path / "batch.jsonl"
    jsonl.write_bytes(b"\n".join(lines) + b"\n")
    # Published the way an adapter author or operator would: through the CLI.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "publish",
            str(jsonl),
            "--broker",
            broker.url,
            "--topic-prefix",
            worker.prefix,
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert f"published {len(lines)} record(s)" in done.stderr.decode()

    routed_t, dlq_t = worker.topic("contacts.routed"), worker.topic("contacts.dlq")
    got = drain(
        broker.bootstrap,
        [routed_t, dlq_t],
        until=lambda g: len(g[routed_t]) >= len(VALID) and len(g[dlq_t]) >= len(BAD),
        timeout=90,
    )
    routed, dead = got[routed_t], got[dlq_t]

    # Nothing lost, nothing doubled: every valid contact routed once (the retry was not).
    assert sorted(d["event_id"] for d in routed) == sorted(f"ok-{c.value}" for c in Channel)
    assert len(routed) + len(dead) == len(lines) - 1  # minus the deduplicated retry
    assert {d["channel"] for d in routed} == {c.value for c in Channel}
    for d in routed:
        assert d["reply_channel"] == d["channel"] and d["reasons"] and d["config_version"]

    # Each bad input with its own reason; event ids where the input had a readable one.
    assert Counter(d["reason"] for d in dead) == Counter(r for _, r in BAD)
    by_event = {d["event_id"]: d for d in dead if d["event_id"]}
    for line, reason in BAD:
        try:
            event_id = orjson.loads(line).get("event_id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(event_id, str):
            assert by_event[event_id]["reason"] == reason
    for d in dead:
        assert d["source"]["topic"] == worker.topic("contacts.raw")
        assert d["original_b64"] and d["message"]

    # The per-target topics carry the same decisions.
    targets = Counter(d["target"] for d in routed)
    per_target = drain(
        broker.bootstrap,
        [worker.topic(f"route.{t}") for t in targets],
        until=lambda g: all(len(g[worker.topic(f"route.{t}")]) >= n for t, n in targets.items()),
        timeout=30,
    )
    assert {t: len(v) for t, v in per_target.items()} == {
        worker.topic(f"route.{t}"): n for t, n in targets.items()
    }

    # And the worker's metrics, scraped over HTTP, agree with what came out.
    text = worker.metrics_text()

    def total(name: str) -> float:
        return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))

    assert total("wavebreak_raw_messages_total") == len(lines)
    assert total("wavebreak_dead_letters_total") == len(BAD)
    assert total("wavebreak_duplicates_total") == 1
    assert total("wavebreak_decisions_total") == len(VALID)
    assert total("wavebreak_contacts_in_total") == len(VALID) + 1
