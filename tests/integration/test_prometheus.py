"""A real Prometheus scrapes a live worker; every dashboard and alert expression is evaluated."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config_source import CONFIG_KEY
from streams.embedded_broker import EmbeddedBroker, find_free_port
from tests.integration.test_observability import ANGRY, CALM, chat, fast_wave_config
from tests.integration.workers import ROOT, WorkerProcess, publish

DEPLOY = ROOT / "deploy"
RULES = sorted((DEPLOY / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))

# Alerts the test traffic must make fire (their expression returns series).
FIRING = {
    "WavebreakWaveStarted",
    "WavebreakNegativityWave",
    "WavebreakSeniorQueueOverCapacity",
    "WavebreakDeadLetterSpike",
    "WavebreakConfigReloadRefused",
}
# Series Prometheus makes itself; everything else must come from the worker.
PROMETHEUS_OWN = {"up"}
# Grafana's variables, as the dashboard would expand them.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1s", "$channel": ".*"}

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="needs the `prometheus` and `promtool` binaries (Debian package `prometheus`; "
    ".ci/run installs it in CI)",
)


def rule_exprs() -> dict[str, str]:
    out = {}
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                out[rule.get("alert") or rule["record"]] = rule["expr"]
    return out


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def dashboard_exprs() -> dict[str, str]:
    out = {}
    for path in DASHBOARDS:
        for panel in _panels(json.loads(path.read_text(encoding="utf-8"))["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for var, value in GRAFANA_VARS.items():
                    expr = expr.replace(var, value)
                out[f"{path.name}: {panel['title']} [{target['refId']}]"] = expr
    return out


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\bwavebreak_[a-z0-9_]+", expr))
    return names | {n for n in PROMETHEUS_OWN if re.search(rf"\b{n}\{{", expr)}


class Prometheus:
    """A Prometheus server of our own on a free port, its config and data in `home`."""

    def __init__(self, home: Path, target: str) -> None:
        self.port = find_free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in RULES],
            "scrape_configs": [
                {"job_name": "wavebreak", "static_configs": [{"targets": [target]}]}
            ],
        }
        self.config = home / "prometheus.yml"
        self.config.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.log = home / "prometheus.log"
        self.data = home / "data"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Prometheus:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.data}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def api(self, path: str, **params: str) -> Any:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", expr
        return data["result"]  # type: ignore[no-any-return]


def publish_keyed(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for key, value in records:
                await producer.send_and_wait(topic, value, key=key, partition=0)
        finally:
            await producer.stop()

    asyncio.run(go())


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last is True:
                return
        except AssertionError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what}: {last}")


def test_promtool_accepts_the_rules() -> None:
    assert RULES, "no rule files in deploy/prometheus/rules"
    done = subprocess.run(
        ["promtool", "check", "rules", *map(str, RULES)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_expression_evaluates_against_a_live_worker(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    rules, panels = rule_exprs(), dashboard_exprs()
    assert set(rules) >= FIRING and len(panels) >= 15
    config = fast_wave_config(tmp_path)
    with WorkerProcess(broker, env={"WAVEBREAK_CONFIG": str(config)}) as w:
        prom = Prometheus(tmp_path, f"127.0.0.1:{w.web_port}")
        checked = subprocess.run(
            ["promtool", "check", "config", str(prom.config)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        prom.start()
        try:
            raw_topic = w.topic("contacts.raw")
            # Dead letters first, so that the later burst is an increase Prometheus sees.
            publish(broker.bootstrap, raw_topic, [b"not json"] * 2)
            for second in range(7):
                publish(
                    broker.bootstrap,
                    raw_topic,
                    [chat("calm", second * 3 + k, CALM) for k in range(3)],
                )
                time.sleep(1.0)
            publish(broker.bootstrap, raw_topic, [chat("angry", i, ANGRY) for i in range(150)])
            publish(broker.bootstrap, raw_topic, [b"not json"] * 25)
            # The ACD says the senior queue is over its limit; an unreadable config arrives.
            publish_keyed(
                broker.bootstrap,
                w.topic("capacity"),
                [(b"senior", b'{"in_flight": 15, "limit": 12}')],
            )
            publish_keyed(
                broker.bootstrap, w.topic("routing.config"), [(CONFIG_KEY, b"not a config")]
            )

            # Names: every metric an expression uses is one the worker exports.
            def scraped() -> bool:
                names = set(prom.api("label/__name__/values"))
                assert "wavebreak_consumer_lag" in names and "wavebreak_queue_in_flight" in names
                return True

            wait_until(scraped, 30, "worker not scraped")

            # Dashboard: every expression parses and, with this traffic, returns series.
            def dashboard_ok() -> bool:
                empty = [k for k, e in panels.items() if not prom.query(e)]
                assert not empty, f"no series for {empty}"
                return True

            wait_until(dashboard_ok, 30, "dashboard expressions")

            # Rules: every expression parses; the ones this traffic triggers return series.
            def rules_ok() -> bool:
                silent = [a for a in sorted(FIRING) if not prom.query(rules[a])]
                assert not silent, f"expected to fire: {silent}"
                return True

            wait_until(rules_ok, 30, "alert expressions")
            for expr in rules.values():
                prom.query(expr)  # parse errors raise
            names = set(prom.api("label/__name__/values"))
            exported = {
                re.split(r"[{ ]", line, maxsplit=1)[0]
                for line in w.metrics_text().splitlines()
                if line and not line.startswith("#")
            }
            for key, expr in {**rules, **panels}.items():
                used = metric_names(expr)
                assert used, f"{key} names no metric"
                unknown = {n for n in used if n not in names}
                assert not unknown, f"{key} uses metrics Prometheus never scraped: {unknown}"
                foreign = used - PROMETHEUS_OWN - exported
                assert not foreign, f"{key}: {foreign} are not exported by the worker"

            # And Prometheus itself evaluated every rule without an error.
            def rules_healthy() -> bool:
                groups = prom.api("rules")["groups"]
                bad = [
                    (r["name"], r.get("lastError"))
                    for g in groups
                    for r in g["rules"]
                    if r["health"] != "ok"
                ]
                assert not bad and sum(len(g["rules"]) for g in groups) == len(rules), bad
                return True

            wait_until(rules_healthy, 15, "rule health")

            # Prometheus's own rule evaluation agrees: pending (rules with `for:`) or firing.
            def alerts_active() -> bool:
                alerts = prom.api("alerts")["alerts"]
                active = {a["labels"]["alertname"]: a for a in alerts}
                assert set(active) >= FIRING, sorted(active)
                assert active["WavebreakDeadLetterSpike"]["labels"]["reason"] == "not_json"
                assert active["WavebreakConfigReloadRefused"]["state"] == "firing"
                assert active["WavebreakSeniorQueueOverCapacity"]["labels"]["queue"] == "senior"
                return True

            wait_until(alerts_active, 15, "alerts")
        finally:
            prom.stop()
