"""End-to-end latency at a steady rate and through a 10x surge, and worker memory over time.

Run: .venv/bin/python bench/bench_latency.py [--rate 100] [--surge 10] [--steady-s 30]
     [--surge-s 10] [--after-s 40] [--memory-contacts 0] [--fetch-wait-ms 0]

One wavebreak worker (a child process, as in bench_pipeline.py) on the embedded broker.
This process publishes demo envelopes (every one valid and new, so every one is routed) at
`--rate` per second, then `--surge` times that for `--surge-s`, then `--rate` again, and
reads contacts.routed meanwhile. A contact's latency is its decision's `decided_at` minus
the wall-clock time it was handed to the producer here (one machine, one clock): broker
hops, the raw backlog and both stages included. Printed per phase (by when the contact was
published): p50/p95/p99/max, and p99 over the first 5 s after the surge.
The worker's resident memory (/proc) is printed at the end of each phase. The embedded
broker holds each fetch for up to its max wait (aiokafka's 500 ms in the two stages), so
much of the latency here is fetch waiting; `--fetch-wait-ms 50` shows the pipeline's own.

With `--memory-contacts N`, N more contacts follow as fast as the worker routes them (the
publisher keeps at most 20,000 ahead) and the worker's RSS is printed every N/10 decisions:
the "memory after a million contacts" figure is `--memory-contacts 1000000`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import orjson  # noqa: E402
from bench_pipeline import PARTITIONS, worker_process  # noqa: E402

from streams.demo import DemoTraffic  # noqa: E402
from streams.embedded_broker import EmbeddedBroker, create_topics  # noqa: E402

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

#: Ahead of the worker by at most this many contacts in the memory run.
MAX_AHEAD = 20_000


@dataclass
class Phase:
    """One stretch of the schedule: `rate` contacts/s for `seconds`."""

    name: str
    rate: float
    seconds: float
    latencies: list[float] = field(default_factory=list)
    rss_mib: float = float("nan")


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Run:
    """Publishes on a schedule and matches decisions to their publish times."""

    def __init__(self, bootstrap: str, prefix: str, child: subprocess.Popen[bytes]) -> None:
        self.bootstrap = bootstrap
        self.raw = f"{prefix}.contacts.raw"
        self.routed = f"{prefix}.contacts.routed"
        self.child = child
        self.traffic = DemoTraffic(
            seed=9, retry_share=0.0, bad_share=0.0, clock=lambda: datetime.now(UTC)
        )
        self.sent_at: dict[str, tuple[float, Phase | None]] = {}
        self.decided = 0
        self.published = 0

    async def publish(self, phases: list[Phase], memory_contacts: int) -> None:
        """Publish each phase at its rate, then `memory_contacts` as fast as they are routed."""
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            for phase in phases:
                start, sent = time.monotonic(), 0
                while (elapsed := time.monotonic() - start) < phase.seconds:
                    due = int(phase.rate * elapsed) - sent
                    sent += await self._send(producer, due, phase)
                    await asyncio.sleep(0.02)
                # The phase's last fraction of a tick, so each phase sends exactly its share.
                await self._send(producer, round(phase.rate * phase.seconds) - sent, phase)
                phase.rss_mib = rss_mib(self.child.pid)
                print(
                    f"  {phase.name:<8} {phase.rate:>6,.0f}/s for {phase.seconds:>3.0f}s; "
                    f"worker RSS {phase.rss_mib:,.0f} MiB",
                    flush=True,
                )
            target = self.published + memory_contacts
            while self.published < target:
                room = min(MAX_AHEAD - (self.published - self.decided), target - self.published)
                await self._send(producer, room, None)
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()

    async def publish_one(self) -> None:
        """Publish one contact (the join probe)."""
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        await producer.start()
        try:
            await self._send(producer, 1, None)
        finally:
            await producer.stop()

    async def _send(self, producer: AIOKafkaProducer, count: int, phase: Phase | None) -> int:
        if count <= 0:
            return 0
        futures = []
        for _ in range(count):
            value = next(self.traffic)
            event_id = orjson.loads(value)["event_id"]
            self.sent_at[event_id] = (time.time(), phase)
            futures.append(await producer.send(self.raw, value))
        await asyncio.gather(*futures)
        self.published += count
        return count

    async def consume(self, total: int, memory_every: int) -> None:
        """Read decisions until `total`; print the worker's RSS every `memory_every`."""
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.routed,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        next_report = memory_every
        try:
            while self.decided < total:
                if self.child.poll() is not None:
                    raise RuntimeError(f"worker exited with code {self.child.returncode}")
                batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
                for records in batches.values():
                    for r in records:
                        d = orjson.loads(r.value)
                        sent, phase = self.sent_at.pop(d["event_id"], (None, None))
                        self.decided += 1
                        if sent is not None and phase is not None:
                            decided = datetime.fromisoformat(d["decided_at"]).timestamp()
                            phase.latencies.append(decided - sent)
                if memory_every and self.decided >= next_report:
                    rss = rss_mib(self.child.pid)
                    print(f"  {self.decided:>9,} routed: worker RSS {rss:,.0f} MiB", flush=True)
                    next_report += memory_every
        finally:
            await consumer.stop()


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else float("nan")


async def main_async(args: argparse.Namespace) -> int:
    phases = [
        Phase("warm-up", args.rate, 15.0),
        Phase("steady", args.rate, args.steady_s),
        Phase("surge", args.rate * args.surge, args.surge_s),
        Phase("after", args.rate, args.after_s),
    ]
    total = sum(round(p.rate * p.seconds) for p in phases) + args.memory_contacts
    with EmbeddedBroker(silent=True) as broker:
        prefix = f"bench-lat-{uuid.uuid4().hex[:6]}"
        await create_topics(broker.bootstrap, {f"{prefix}.contacts.raw": PARTITIONS})
        print(
            f"embedded broker {broker.bootstrap}, {PARTITIONS} partitions, one worker; "
            f"{args.rate:g}/s, surge x{args.surge:g} for {args.surge_s:g}s; fetch max wait "
            f"{f'{args.fetch_wait_ms} ms' if args.fetch_wait_ms else 'aiokafka default (500 ms)'}"
        )
        env = {"WAVEBREAK_FETCH_MAX_WAIT_MS": str(args.fetch_wait_ms)} if args.fetch_wait_ms else {}
        with worker_process(broker.bootstrap, prefix, env) as child:
            run = Run(broker.bootstrap, prefix, child)
            # A first contact routed means the worker has joined the group and read config.
            await run.publish_one()
            await run.consume(1, 0)
            run.decided = 0  # the next reader starts from the beginning again
            await asyncio.gather(
                run.publish(phases, args.memory_contacts),
                run.consume(total + 1, args.memory_contacts // 10),
            )
    print("  latency = decided_at - publish time (seconds)")
    for p in phases[1:]:
        lat = p.latencies
        print(
            f"  {p.name:<8} n={len(lat):>6}  p50 {_pct(lat, 50):6.3f}  p95 {_pct(lat, 95):6.3f}  "
            f"p99 {_pct(lat, 99):6.3f}  max {max(lat, default=float('nan')):6.3f}"
        )
    # Recovery: the first 5 s of contacts published after the surge against the rest.
    after, head = phases[3].latencies, round(5 * phases[3].rate)
    if len(after) > head + 1:
        print(
            f"  after the surge: p99 {_pct(after[:head], 99):.3f} in its first 5 s, "
            f"{_pct(after[head:], 99):.3f} later (steady p99 {_pct(phases[1].latencies, 99):.3f})"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100.0, help="steady contacts/s")
    parser.add_argument("--surge", type=float, default=10.0, help="surge multiple of the rate")
    parser.add_argument("--steady-s", type=float, default=30.0)
    parser.add_argument("--surge-s", type=float, default=10.0)
    parser.add_argument("--after-s", type=float, default=40.0)
    parser.add_argument("--memory-contacts", type=int, default=0)
    parser.add_argument(
        "--fetch-wait-ms",
        type=int,
        default=0,
        help="the worker's WAVEBREAK_FETCH_MAX_WAIT_MS (default: aiokafka's 500 ms)",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
