"""Test helpers: a real `wavebreak worker` process and a consumer that drains topics."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from streams.embedded_broker import EmbeddedBroker, find_free_port

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """`wavebreak worker` in a subprocess with its own topic prefix and consumer group."""

    def __init__(
        self,
        broker: EmbeddedBroker,
        prefix: str | None = None,
        *,
        app_id: str | None = None,
        partitions: int = 2,
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker = broker
        self.prefix = prefix or f"it-{uuid.uuid4().hex[:8]}"
        self.app_id = app_id or f"{self.prefix}-app"
        self.partitions = partitions
        self.web_port = find_free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        # Open for the worker's whole life (and restarts); __exit__ removes the file.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="wavebreak-worker-", suffix=".log", delete=False
        )

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def start(self, ready_timeout: float = 60.0) -> WorkerProcess:
        env = dict(os.environ)
        env.update(
            {
                "WAVEBREAK_APP_ID": self.app_id,
                "WAVEBREAK_TOPIC_PREFIX": self.prefix,
                "WAVEBREAK_PARTITIONS": str(self.partitions),
                "WAVEBREAK_WEB_PORT": str(self.web_port),
                "WAVEBREAK_WEB_HOST": "127.0.0.1",
                "WAVEBREAK_EMBEDDED": "true",
                **self.extra_env,
            }
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streams.cli",
                "worker",
                "--broker",
                self.broker.url,
                "--loglevel",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.output()}")
            if self.healthz().get("ready"):
                return self
            time.sleep(0.25)
        raise TimeoutError(f"worker not ready after {ready_timeout}s:\n{self.output()}")

    def healthz(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}/healthz", timeout=2
            ) as r:
                return orjson.loads(r.read())
        except urllib.error.HTTPError as exc:
            return orjson.loads(exc.read())
        except OSError:
            return {}

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name: str) -> float:
        """Sum of all samples of metric `name` the worker exports right now."""
        return metric_total(self.metrics_text(), name)

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-6000:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self) -> WorkerProcess:
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
        # Closed explicitly: a log file left to the garbage collector raises a
        # ResourceWarning in whatever test runs next (warnings are errors here).
        self.log.close()
        keep = os.environ.get("WAVEBREAK_TEST_KEEP_LOGS")  # a folder: keep worker logs there
        if keep:
            shutil.move(self.log.name, Path(keep) / f"{self.app_id}-{Path(self.log.name).name}")
        else:
            Path(self.log.name).unlink(missing_ok=True)


def drain(
    bootstrap: str,
    topics: list[str],
    until: Callable[[dict[str, list[Any]]], bool],
    timeout: float = 60.0,
) -> dict[str, list[Any]]:
    """Read `topics` from the beginning until `until(records_by_topic)` or the timeout."""

    async def go() -> dict[str, list[Any]]:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        got: dict[str, list[Any]] = {t: [] for t in topics}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline and not until(got):
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    got[tp.topic].extend(orjson.loads(r.value) for r in records)
        finally:
            await consumer.stop()
        return got

    return asyncio.run(go())


def publish(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Publish raw values (no key) and wait for the broker's acknowledgements."""

    async def go() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024)
        await producer.start()
        try:
            futures = [await producer.send(topic, v) for v in values]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    asyncio.run(go())


def metric_total(text: str, name: str) -> float:
    """Sum of every sample of metric `name` (all label sets) in a Prometheus text page."""
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def wait_until(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Poll `predicate` until it holds; return the seconds it took (AssertionError on timeout)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")


class PacedPublisher(threading.Thread):
    """Publishes values at a steady rate in the background: load while workers come and go.

    Each slice of values is acknowledged before the next, so `sent` counts what the
    broker has; `error` holds what stopped the thread, if anything.
    """

    def __init__(self, bootstrap: str, topic: str, values: list[bytes], per_second: float) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.values = values
        self.per_second = per_second
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._go())
        except BaseException as exc:  # reported by the test through `error`
            self.error = exc

    async def _go(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        step = max(1, int(self.per_second / 20))
        start = time.monotonic()
        try:
            for i in range(0, len(self.values), step):
                futures = [await producer.send(self.topic, v) for v in self.values[i : i + step]]
                await asyncio.gather(*futures)
                self.sent += len(futures)
                ahead = start + self.sent / self.per_second - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        finally:
            await producer.stop()
