"""Hot reload on a running worker: open -> closed via `config publish`, bad configs refused."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from routing.config import config_version, load_config
from streams.embedded_broker import EmbeddedBroker
from tests.integration.workers import ROOT, WorkerProcess, drain, publish
from tests.unit.conftest import envelope, raw

OPEN = ROOT / "config" / "open.yaml"
CLOSED = ROOT / "config" / "closed.yaml"


def batch(tag: str, n: int) -> list[bytes]:
    # Voice calls and emails: people under the open strategy, bots/IVR under the closed one.
    out = []
    for i in range(n):
        if i % 2:
            out.append(
                raw(
                    envelope(
                        "voice",
                        {"call_id": f"{tag}{i}", "caller_number": f"+7916{i:07d}"},
                        event_id=f"{tag}-{i}",
                    )
                )
            )
        else:
            out.append(
                raw(
                    envelope(
                        "email",
                        {
                            "from": f"c{i}@x.example",
                            "subject": "Order",
                            "body": "Where is my order?",
                        },
                        event_id=f"{tag}-{i}",
                    )
                )
            )
    return out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_switch_open_to_closed_without_restart(broker: EmbeddedBroker, tmp_path: Path) -> None:
    open_v = config_version(load_config(OPEN))
    closed_v = config_version(load_config(CLOSED))
    with WorkerProcess(broker, env={"WAVEBREAK_CONFIG": str(OPEN)}) as w:
        routed_t = w.topic("contacts.routed")
        assert w.healthz()["config"] == open_v
        publish(broker.bootstrap, w.topic("contacts.raw"), batch("a", 20))
        first = drain(broker.bootstrap, [routed_t], until=lambda g: len(g[routed_t]) >= 20)
        assert {d["config_version"] for d in first[routed_t]} == {open_v}
        assert {d["strategy"] for d in first[routed_t]} == {"open"}
        assert Counter(d["target"] for d in first[routed_t]) == {"queue": 20}

        done = cli(
            "config", "publish", str(CLOSED), "--broker", broker.url, "--topic-prefix", w.prefix
        )
        assert done.returncode == 0, done.stderr
        wait_for(lambda: w.healthz().get("config") == closed_v)
        pid = w.proc.pid if w.proc else None

        publish(broker.bootstrap, w.topic("contacts.raw"), batch("b", 20))
        got = drain(broker.bootstrap, [routed_t], until=lambda g: len(g[routed_t]) >= 40)
        second = [d for d in got[routed_t] if d["event_id"].startswith("b-")]
        assert len(second) == 20
        assert {d["config_version"] for d in second} == {closed_v}
        assert {d["strategy"] for d in second} == {"closed"}
        assert Counter(d["target"] for d in second)["bot"] == 20  # IVR and self-service

        # An invalid config is refused: routing continues on the last good one.
        bad = tmp_path / "broken.yaml"
        bad.write_text("strategy: sideways\nchannels: {}\nqueues: {}\n", encoding="utf-8")
        assert cli("validate", str(bad)).returncode != 0
        refused = cli(
            "config", "publish", str(bad), "--broker", broker.url, "--topic-prefix", w.prefix
        )
        assert refused.returncode == 1 and "nothing published" in refused.stderr
        forced = cli(
            "config",
            "publish",
            str(bad),
            "--skip-validation",
            "--broker",
            broker.url,
            "--topic-prefix",
            w.prefix,
        )
        assert forced.returncode == 0, forced.stderr
        wait_for(lambda: 'wavebreak_config_reloads_total{result="refused"} 1.0' in w.metrics_text())
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{w.web_port}/config", timeout=5) as r:
            page = r.read().decode()
        assert closed_v in page and "broken.yaml" in page  # the refusal names the file

        publish(broker.bootstrap, w.topic("contacts.raw"), batch("c", 20))
        got = drain(broker.bootstrap, [routed_t], until=lambda g: len(g[routed_t]) >= 60)
        third = [d for d in got[routed_t] if d["event_id"].startswith("c-")]
        assert {d["config_version"] for d in third} == {closed_v}

        # Same process all along, and nothing lost or doubled.
        assert w.proc is not None and w.proc.pid == pid and w.proc.poll() is None
        assert sorted(d["event_id"] for d in got[routed_t]) == sorted(
            f"{t}-{i}" for t in "abc" for i in range(20)
        )
        metrics = w.metrics_text()
        assert 'wavebreak_config_reloads_total{result="applied"} 1.0' in metrics
        assert f'wavebreak_config_info{{strategy="closed",version="{closed_v}"}} 1.0' in metrics


@pytest.mark.parametrize("bad", ["strategy: open\nunknown_key: 1\n", "strategy: [\n"])
def test_config_publish_refuses_invalid_files(tmp_path: Path, bad: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(bad, encoding="utf-8")
    # No broker is contacted for an invalid file: validation comes first.
    done = cli("config", "publish", str(f), "--broker", "kafka://127.0.0.1:9")
    assert done.returncode == 1
    assert f"{f}:" in done.stderr  # file:line: key path: message
