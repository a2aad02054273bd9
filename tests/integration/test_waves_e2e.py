"""Two workers, one surge: the aggregated load state reaches both routers within seconds."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import yaml

from streams.demo import DEMO_DETECTOR, DemoTraffic
from streams.embedded_broker import EmbeddedBroker
from tests.integration.workers import ROOT, WorkerProcess, drain

BASE_RATE = 20.0  # contacts/s across channels
SURGE_RATE = 80.0  # extra chats/s during the surge
WARMUP_S = 40.0


def fast_config(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "config" / "open.yaml").read_text(encoding="utf-8"))
    data["waves"]["detector"] = {**data["waves"].get("detector", {}), **DEMO_DETECTOR}
    path = tmp_path / "fast-waves.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


class Traffic(threading.Thread):
    """Publishes demo contacts at BASE_RATE, plus SURGE_RATE chats once `surge` is set."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.surge = threading.Event()
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        from aiokafka import AIOKafkaProducer

        traffic = DemoTraffic(seed=11, bad_share=0.0, retry_share=0.0)
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            tick, owed = 0.1, 0.0
            while not self.stop.is_set():
                owed += (BASE_RATE + (SURGE_RATE if self.surge.is_set() else 0.0)) * tick
                n, owed = int(owed), owed - int(owed)
                for i in range(n):
                    surge_share = SURGE_RATE / (BASE_RATE + SURGE_RATE)
                    raw = (
                        traffic.one("chat")
                        if self.surge.is_set() and i < n * surge_share
                        else next(traffic)
                    )
                    await producer.send(self.topic, raw)
                    self.sent += 1
                await asyncio.sleep(tick)
            await producer.flush()
        finally:
            await producer.stop()


def chat_level(worker: WorkerProcess) -> str:
    import urllib.request

    import orjson

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/load", timeout=2) as r:
            state = orjson.loads(r.read())
    except OSError:
        return "unknown"
    return str(state["channels"].get("chat", {}).get("level", "normal"))


def test_surge_reaches_both_workers(broker: EmbeddedBroker, tmp_path: Path) -> None:
    config = fast_config(tmp_path)
    env = {"WAVEBREAK_CONFIG": str(config)}
    first = WorkerProcess(broker, partitions=4, env=env)
    second = WorkerProcess(broker, prefix=first.prefix, app_id=first.app_id, partitions=4, env=env)
    with first, second:
        traffic = Traffic(broker.bootstrap, first.topic("contacts.raw"))
        traffic.start()
        try:
            time.sleep(WARMUP_S)
            assert chat_level(first) == chat_level(second) == "normal"
            surge_at = time.monotonic()
            traffic.surge.set()
            seen: dict[str, float] = {}
            while time.monotonic() - surge_at < 45 and len(seen) < 2:
                for name, w in (("first", first), ("second", second)):
                    if name not in seen and chat_level(w) != "normal":
                        seen[name] = time.monotonic() - surge_at
                time.sleep(0.25)
        finally:
            traffic.stop.set()
            traffic.join(15)
        print(f"surge -> chat level seen by router: {seen} s (sent {traffic.sent})")
        assert set(seen) == {"first", "second"}, seen
        # The two routers read the same published state: they see it within a second or two.
        assert abs(seen["first"] - seen["second"]) < 3.0
        assert max(seen.values()) < 30.0

        # Decisions made after detection carry the wave level; nothing was lost meanwhile.
        routed_t, dlq_t = first.topic("contacts.routed"), first.topic("contacts.dlq")
        got = drain(
            broker.bootstrap,
            [routed_t, dlq_t],
            until=lambda g: len(g[routed_t]) + len(g[dlq_t]) >= traffic.sent,
            timeout=60,
        )
        assert len({d["event_id"] for d in got[routed_t]}) == traffic.sent
        assert any(d["wave_level"] != "normal" for d in got[routed_t] if d["channel"] == "chat")
