"""End to end through the embedded broker: the wavebreak pipeline beside the baselines, same run.

Run: .venv/bin/python bench/bench_pipeline.py [--n 20000] [--no-baselines]

Like the baselines in bench_broker_baselines.py, N envelopes are produced first, then the
worker under test starts in a child process, and the rate is N / (last output - first
output) as seen by a consumer here, where the window opens at the first record that the
first stage writes (contacts.normalized / the passthrough's intermediate topic); group join
and start-up are outside it. For
wavebreak an "output" is a decision on contacts.routed or a record on contacts.dlq (every
input yields exactly one of them; the demo traffic here has no retries). Also prints the
received -> decided latency percentiles carried by the decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402
from bench_broker_baselines import (  # noqa: E402
    FAUST_DEFAULT,
    FAUST_TUNED,
    FAUST_TUNED_TWO_HOPS,
    Measurement,
    measure_aiokafka_loop,
    measure_faust,
    produce_input,
)

from streams.demo import DemoTraffic  # noqa: E402
from streams.embedded_broker import EmbeddedBroker, create_topics, find_free_port  # noqa: E402

PARTITIONS = 4


async def _consume(
    bootstrap: str,
    topics: list[str],
    n: int,
    child: subprocess.Popen[bytes],
    timeout: float,
    upstream: tuple[str, ...] = (),
) -> tuple[int, float, float, list[float], float, int]:
    """Count `n` records on `topics`; also the worker's CPU seconds in the window.

    The first record on any of them or on `upstream` (the first stage's output) starts the
    clock. The last value is the number of distinct event ids among the outputs (read
    after the clock stops), so a worker that routed some contacts twice cannot pass for
    a faster one.
    """
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        *upstream,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    count, first, last = 0, 0.0, 0.0
    cpu_first = cpu_last = 0.0
    latencies: list[float] = []
    outputs: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {n} outputs after {timeout:.0f}s")
            if child.poll() is not None:
                raise RuntimeError(f"worker exited with code {child.returncode}")
            batches = await consumer.getmany(timeout_ms=200, max_records=100_000)
            now = time.perf_counter()
            for tp, records in batches.items():
                if not records:
                    continue
                if not first:
                    first, cpu_first = now, _cpu_seconds(child.pid)
                if tp.topic in upstream:
                    continue
                count += len(records)
                outputs.extend(r.value for r in records)
                last, cpu_last = now, _cpu_seconds(child.pid)
                if tp.topic.endswith("contacts.routed"):
                    for r in records[:: max(1, len(records) // 200)]:
                        d = orjson.loads(r.value)
                        latencies.append(
                            (
                                datetime.fromisoformat(d["decided_at"])
                                - datetime.fromisoformat(d["received_at"])
                            ).total_seconds()
                        )
    finally:
        await consumer.stop()
    distinct = len({_identity(orjson.loads(v)) for v in outputs})
    return count, first, last, latencies, cpu_last - cpu_first, distinct


def _identity(output: dict[str, Any]) -> object:
    """What tells one input from another: a decision's event id, a dead letter's source."""
    source = output.get("source")
    if "reason" in output and isinstance(source, dict):
        return (source.get("topic"), source.get("partition"), source.get("offset"))
    return output.get("event_id")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux; 0 elsewhere).

    On a shared machine the rate depends on what else runs; the worker's CPU time per
    contact does much less, so variants are compared on both.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def worker_process(
    bootstrap: str, prefix: str, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A wavebreak worker child process on topics `prefix`.*; its log tail on failure.

    WB_PROFILE=FILE records it with py-spy (raw collapsed stacks) for a look inside, for
    WB_PROFILE_S seconds (25) from its start.
    """
    env = dict(
        os.environ,
        WAVEBREAK_TOPIC_PREFIX=prefix,
        WAVEBREAK_APP_ID=prefix,
        WAVEBREAK_PARTITIONS=str(PARTITIONS),
        WAVEBREAK_WEB_PORT=str(find_free_port()),
        WAVEBREAK_EMBEDDED="true",
        **(extra_env or {}),
    )
    log = tempfile.NamedTemporaryFile(prefix="bench-wb-", suffix=".log", delete=False)  # noqa: SIM115
    profile = os.environ.get("WB_PROFILE")
    spy = (
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--nonblocking",
            "--rate",
            os.environ.get("WB_PROFILE_RATE", "100"),
            "--format",
            "raw",
            "-o",
            profile,
            "--duration",
            os.environ.get("WB_PROFILE_S", "25"),
            "--",
        ]
        if profile
        else []
    )
    argv = ["-m", "streams.cli", "worker", "--broker", f"kafka://{bootstrap}"]
    child = subprocess.Popen(
        [*spy, sys.executable, *argv, "--loglevel", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield child
    except BaseException:
        log.close()
        print(Path(log.name).read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        if profile:
            child.wait(60)  # py-spy stops after --duration and writes the profile
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()
    os.unlink(log.name)


async def measure_wavebreak(
    bootstrap: str, n: int, timeout: float = 600.0
) -> tuple[Measurement, list[float], float]:
    """The full wavebreak worker (normalize -> route with dedup table) in a child process."""
    prefix = f"bench-wb-{uuid.uuid4().hex[:6]}"
    traffic = DemoTraffic(seed=3, retry_share=0.0, bad_share=0.02, clock=lambda: datetime.now(UTC))
    records = [(None, next(traffic)) for _ in range(n)]
    await create_topics(bootstrap, {f"{prefix}.contacts.raw": PARTITIONS})
    await produce_input(bootstrap, f"{prefix}.contacts.raw", records)  # type: ignore[arg-type]
    started = time.perf_counter()
    with worker_process(bootstrap, prefix) as child:
        count, first, last, lat, cpu, distinct = await _consume(
            bootstrap,
            [f"{prefix}.contacts.routed", f"{prefix}.contacts.dlq"],
            n,
            child,
            timeout,
            upstream=(f"{prefix}.contacts.normalized",),
        )
    m = Measurement(
        "wavebreak pipeline (normalize+route)", n, count, last - first, 0.0, first - started
    )
    if distinct != n:
        print(f"  WARNING: {distinct} distinct inputs among {count} outputs: the rate overstates")
    return m, lat, cpu


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else float("nan")


async def main_async(n: int, baselines: bool) -> int:
    with EmbeddedBroker(silent=True) as broker:
        print(f"embedded broker {broker.bootstrap}, n={n}, {PARTITIONS} partitions")
        results: list[Measurement] = []
        if baselines:
            results.append(await measure_aiokafka_loop(broker.bootstrap, n))
            print(results[-1].line(), flush=True)
            results.append(await measure_faust(broker.bootstrap, n, FAUST_DEFAULT))
            print(results[-1].line(), flush=True)
            results.append(await measure_faust(broker.bootstrap, n, FAUST_TUNED))
            print(results[-1].line(), flush=True)
            results.append(await measure_faust(broker.bootstrap, n, FAUST_TUNED_TWO_HOPS))
            print(results[-1].line(), flush=True)
        wb, lat, cpu = await measure_wavebreak(broker.bootstrap, n)
        print(
            f"{wb.name:<34} n={wb.n:>7}  {wb.rate:>9,.0f} msg/s  (span {wb.span_s:6.2f}s, "
            f"start-up {wb.startup_s:5.1f}s)"
        )
        if cpu > 0:
            print(f"  worker CPU in the window: {cpu / wb.received * 1e6:.0f} us per contact")
        if lat:
            print(
                f"  received->decided under backlog: p50 {_pct(lat, 50) * 1000:.0f} ms, "
                f"p99 {_pct(lat, 99) * 1000:.0f} ms (sampled {len(lat)})"
            )
        if baselines:
            tuned, two_hops = results[-2].rate, results[-1].rate
            print(f"  wavebreak / tuned faust passthrough = {wb.rate / tuned:.2f} (target >= 0.5)")
            # wavebreak has two stages (raw -> normalize -> normalized -> route): its
            # ceiling is the two-hop passthrough with no work at all in either agent.
            print(
                f"  wavebreak / tuned two-hop passthrough = {wb.rate / two_hops:.2f}; "
                f"two-hop / one-hop = {two_hops / tuned:.2f}"
            )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args()
    return asyncio.run(main_async(args.n, not args.no_baselines))


if __name__ == "__main__":
    sys.exit(main())
