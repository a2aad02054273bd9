"""A live worker's /metrics, /healthz and /config agree with the traffic sent, a wave included."""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from routing.config import config_version, load_config
from streams.embedded_broker import EmbeddedBroker
from tests.integration.workers import ROOT, WorkerProcess, publish
from tests.unit.conftest import envelope, raw

# A detector that learns in seconds: a few seconds of 3 chats/s, then a burst is a wave.
FAST_DETECTOR = {
    "short_window_s": 4,
    "short_window_max_s": 4,
    "window_expected_count": 0,
    "min_count": 5,
    "warmup_s": 3,
    "confirm_s": 0,
    "exit_confirm_s": 120,
    "min_dwell_s": 120,
    "baseline_half_life_s": 60,
    "refresh_s": 1,
    "negativity_min_count": 5,
    "negativity_half_life_s": 600,
}

CALM = "Hi, where is my order?"
ANGRY = "This is a scam, terrible service, I am furious and I will sue you"
BAD = [b"this is not json", b"[1, 2, 3]"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def fast_wave_config(tmp_path: Path) -> Path:
    """config/open.yaml with a detector that reaches a wave within a test."""
    data = yaml.safe_load((ROOT / "config" / "open.yaml").read_text(encoding="utf-8"))
    data["waves"]["detector"] = FAST_DETECTOR
    path = tmp_path / "fast-waves.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_config(path)  # fails here, not in the worker, if the copy is invalid
    return path


def chat(tag: str, i: int, text: str) -> bytes:
    payload = {"session_id": f"s-{tag}-{i}", "text": text, "email": f"{tag}{i}@x.example"}
    return raw(envelope("chat", payload, event_id=f"{tag}-{i}"))


def scrape(worker: WorkerProcess) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(worker.metrics_text()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def series(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls), _ in samples.items() if n == name]


def wait_for(worker: WorkerProcess, ok: Callable[[Samples], bool], timeout: float) -> Samples:
    deadline = time.monotonic() + timeout
    samples = scrape(worker)
    while not ok(samples) and time.monotonic() < deadline:
        time.sleep(0.5)
        samples = scrape(worker)
    return samples


def get_json(worker: WorkerProcess, path: str) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}{path}", timeout=5) as r:
        return orjson.loads(r.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fast_wave_config(tmp_path_factory.mktemp("observability"))


def test_metrics_match_traffic_with_a_wave(broker: EmbeddedBroker, config_path: Path) -> None:
    version = config_version(load_config(config_path))
    with WorkerProcess(broker, env={"WAVEBREAK_CONFIG": str(config_path)}) as w:
        raw_topic = w.topic("contacts.raw")
        health = w.healthz()
        assert health["ready"] is True and health["config"] == version
        assert health["partitions_assigned"] and health["config_and_load_state_read"]
        page = get_json(w, "/config")
        assert page["version"] == version and str(config_path) in str(page["source"])

        # Warm-up: a steady trickle of calm chats, one second at a time, and dead letters.
        publish(broker.bootstrap, raw_topic, BAD)
        calm = 0
        for second in range(7):
            publish(
                broker.bootstrap, raw_topic, [chat("calm", second * 3 + k, CALM) for k in range(3)]
            )
            calm += 3
            time.sleep(1.0)
        # The wave: a burst of angry chats (senior escalations, a negativity wave).
        angry = 150
        publish(broker.bootstrap, raw_topic, [chat("angry", i, ANGRY) for i in range(angry)])
        publish(broker.bootstrap, raw_topic, BAD)
        sent_valid, sent_bad = calm + angry, 2 * len(BAD)

        def settled(s: Samples) -> bool:
            return (
                total(s, "wavebreak_decisions_total") >= sent_valid
                and total(s, "wavebreak_wave_level", channel="chat") >= 2
                and total(s, "wavebreak_commit_latency_seconds_count") > 0
            )

        s = wait_for(w, settled, timeout=45)

        # Counters match what was sent.
        assert total(s, "wavebreak_raw_messages_total") == sent_valid + sent_bad
        assert total(s, "wavebreak_contacts_in_total", channel="chat") == sent_valid
        assert total(s, "wavebreak_contacts_in_total") == sent_valid
        assert total(s, "wavebreak_decisions_total") == sent_valid
        assert total(s, "wavebreak_decisions_total", channel="chat") == sent_valid
        assert total(s, "wavebreak_decision_latency_seconds_count") == sent_valid
        assert total(s, "wavebreak_dead_letters_total") == sent_bad
        reasons = Counter(
            {
                d["reason"]: total(s, "wavebreak_dead_letters_total", **d)
                for d in series(s, "wavebreak_dead_letters_total")
            }
        )
        assert reasons == {"not_json": 2, "not_an_object": 2}
        assert total(s, "wavebreak_duplicates_total") == 0
        assert total(s, "wavebreak_sentiment_total", channel="chat", label="negative") == angry
        assert total(s, "wavebreak_sentiment_score_count", language="en") == sent_valid
        # Every angry chat goes to a senior (legal threat rule, strong negativity).
        assert total(s, "wavebreak_decisions_total", target="senior") == angry
        assert total(s, "wavebreak_senior_escalations_total") >= angry

        # The wave: the detector's gauges and the aggregator's change counter.
        assert total(s, "wavebreak_wave_level", channel="chat") == 2, w.output()
        assert total(s, "wavebreak_arrival_rate", channel="chat") > total(
            s, "wavebreak_baseline_rate", channel="chat"
        )
        assert total(s, "wavebreak_wave_changes_total", channel="chat", level="wave") >= 1
        assert total(s, "wavebreak_negativity_wave", channel="chat") == 1
        assert total(s, "wavebreak_negative_share", channel="chat") > 0.5
        # Channels without traffic stay normal (the gauges exist only for seen channels).
        for labels in series(s, "wavebreak_wave_level"):
            if labels["channel"] not in ("chat", "all"):
                assert total(s, "wavebreak_wave_level", **labels) == 0

        # Config in force, no reloads; consumer lag per assigned partition; commits timed.
        assert (
            s[
                (
                    "wavebreak_config_info",
                    frozenset({"version": version, "strategy": "open"}.items()),
                )
            ]
            == 1
        )
        assert total(s, "wavebreak_config_reloads_total") == 0
        lag_series = series(s, "wavebreak_consumer_lag")
        assert {(d["topic"], d["partition"]) for d in lag_series} >= {
            (raw_topic, "0"),
            (raw_topic, "1"),
        }
        assert all(total(s, "wavebreak_consumer_lag", **d) >= 0 for d in lag_series)
        assert total(s, "wavebreak_commit_latency_seconds_count") > 0
        assert total(s, "wavebreak_queue_limit", queue="senior", role="senior") == 12
