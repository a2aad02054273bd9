"""Baselines on one embedded broker: plain aiokafka loop vs faust passthrough (default, tuned).

Run: .venv/bin/python bench/bench_broker_baselines.py [--n 50000] [--ablation]

Every measurement pre-produces N ~300-byte JSON records into a fresh input topic, starts the
worker under test in a child process (so the measuring consumer never shares its CPU time
slice), consumes the output topic in this process and reports N / (time of the last output
record - time of the first; for a two-stage worker, of the first record the first stage
wrote). Group join and start-up are outside the window. The functions
are importable so another benchmark can put the full wavebreak pipeline next to them on the
same broker in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from streams.embedded_broker import EmbeddedBroker, create_topics  # noqa: E402

__all__ = [
    "FAUST_DEFAULT",
    "FAUST_TUNED",
    "FAUST_TUNED_TWO_HOPS",
    "FaustVariant",
    "Measurement",
    "aiokafka_loop",
    "faust_passthrough",
    "faust_variant",
    "make_payloads",
    "measure_aiokafka_loop",
    "measure_faust",
    "produce_input",
]

PARTITIONS = 4
#: Consumer-group timings that make a group join take ~3 s instead of 30 s on Tansu.
SESSION_TIMEOUT_S = 6.0
HEARTBEAT_S = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    """What one run saw on the output topic."""

    name: str
    n: int
    received: int
    span_s: float  # first to last output record, as received by the measuring consumer
    create_span_s: float  # first to last output record, by the records' CreateTime (ms)
    startup_s: float  # child process start to first output record (group join included)

    @property
    def rate(self) -> float:
        """Records per second over `span_s`."""
        return self.received / self.span_s if self.span_s > 0 else float("inf")

    def line(self) -> str:
        """One printable line."""
        return (
            f"{self.name:<34} n={self.n:>7}  {self.rate:>9,.0f} msg/s  "
            f"(span {self.span_s:6.2f}s, by CreateTime {self.create_span_s:6.2f}s, "
            f"start-up {self.startup_s:5.1f}s)"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FaustVariant:
    """One faust passthrough configuration."""

    name: str
    raw: bool = False  # value_serializer="raw" on both topics (no JSON decode/encode)
    batch: int = 0  # >0: stream.take_events(batch, within) instead of one event at a time
    within: float = 0.05
    producer_send: bool = False  # app.producer.send(...) without awaiting the delivery
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    #: 2: input -> agent -> intermediate topic -> agent -> output, as a pipeline that
    #: repartitions (wavebreak: raw -> normalize -> normalized -> route -> routed).
    hops: int = 1


FAUST_DEFAULT = FaustVariant("faust default")
FAUST_TUNED = FaustVariant(
    "faust tuned",
    raw=True,
    batch=2000,
    producer_send=True,
    settings={
        "broker_max_poll_records": 5000,
        "stream_buffer_maxsize": 65536,
        "producer_linger": 0.005,
        "producer_max_batch_size": 262144,
        "producer_acks": 1,
        "stream_wait_empty": False,
    },
)
#: The tuned passthrough through two agents: the ceiling of any two-stage faust pipeline.
FAUST_TUNED_TWO_HOPS = dataclasses.replace(FAUST_TUNED, name="faust tuned, two hops", hops=2)

#: One change at a time from the default, then cumulative, for `--ablation`.
ABLATION: tuple[FaustVariant, ...] = (
    FaustVariant("+ raw serializer", raw=True),
    FaustVariant(
        "+ big poll/buffer",
        settings={"broker_max_poll_records": 5000, "stream_buffer_maxsize": 65536},
    ),
    FaustVariant(
        "+ producer linger/batch/acks=1",
        settings={"producer_linger": 0.005, "producer_max_batch_size": 262144, "producer_acks": 1},
    ),
    FaustVariant("+ producer.send (no await)", producer_send=True),
    FaustVariant("+ take_events(2000)", batch=2000),
    FaustVariant("raw + take_events + producer.send", raw=True, batch=2000, producer_send=True),
    dataclasses.replace(
        FAUST_TUNED,
        name="tuned - big poll/buffer",
        settings={
            k: v
            for k, v in FAUST_TUNED.settings.items()
            if k not in {"broker_max_poll_records", "stream_buffer_maxsize"}
        },
    ),
    dataclasses.replace(
        FAUST_TUNED,
        name="tuned - producer linger/batch/acks",
        settings={k: v for k, v in FAUST_TUNED.settings.items() if not k.startswith("producer_")},
    ),
    dataclasses.replace(
        FAUST_TUNED,
        name="tuned - stream_wait_empty=False",
        settings={k: v for k, v in FAUST_TUNED.settings.items() if k != "stream_wait_empty"},
    ),
    dataclasses.replace(
        FAUST_TUNED,
        name="tuned + producer_threaded",
        settings={**FAUST_TUNED.settings, "producer_threaded": True},
    ),
    dataclasses.replace(FAUST_TUNED, name="tuned with take_events(10000)", batch=10000),
)


def faust_variant(tuned: bool) -> FaustVariant:
    """The default or the tuned passthrough."""
    return FAUST_TUNED if tuned else FAUST_DEFAULT


# -- input and measurement ---------------------------------------------------------------


def make_payloads(n: int, size: int = 300) -> list[tuple[bytes, bytes]]:
    """N (key, JSON value) pairs shaped like contact envelopes, each value ~`size` bytes."""
    out = []
    for i in range(n):
        payload = {"customer": f"cust-{i % 5000}", "text": ""}
        envelope: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=i)),
            "channel": ("voice", "chat", "email", "sms", "social")[i % 5],
            "occurred_at": "2026-11-23T10:00:00+00:00",
            "schema_version": 1,
            "payload": payload,
        }
        pad = size - len(json.dumps(envelope, separators=(",", ":")))
        payload["text"] = ("my card was blocked again please help " * 10)[: max(0, pad)]
        value = json.dumps(envelope, separators=(",", ":")).encode()
        # JSON keys, so faust's default (json) key serializer can decode them.
        out.append((f'"cust-{i % 5000}"'.encode(), value))
    return out


async def produce_input(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Write `records` to `topic` as fast as aiokafka can."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, max_batch_size=1 << 20)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def _consume_output(
    bootstrap: str,
    topic: str,
    n: int,
    timeout: float,
    child: subprocess.Popen[bytes],
    upstream: tuple[str, ...] = (),
) -> tuple[int, float, float, int, int, float]:
    """Count `n` records on `topic`; return count, first/last arrival and CreateTimes.

    `upstream`: intermediate topics of a multi-stage worker. Their first record starts the
    clock (it is the first sign of work), so the first stage's head start is not left out
    of the window; only `topic` is counted.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, fetch_max_wait_ms=100, max_partition_fetch_bytes=8 << 20
    )
    await consumer.start()
    count, first_at, last_at, first_ts, last_ts = 0, 0.0, 0.0, 0, 0
    try:
        consumer.assign(
            [TopicPartition(t, p) for t in (topic, *upstream) for p in range(PARTITIONS)]
        )
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while count < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} of {n} records on {topic} after {timeout:.0f}s")
            if child.poll() is not None:
                raise RuntimeError(f"worker exited with code {child.returncode}")
            batches = await consumer.getmany(timeout_ms=200, max_records=100_000)
            now = time.perf_counter()
            for tp, records in batches.items():
                if not records:
                    continue
                stamps = [r.timestamp for r in records]
                if not first_at:
                    # The first batch already holds records produced before "now".
                    first_at, first_ts = now, min(stamps)
                first_ts = min(first_ts, *stamps)
                if tp.topic != topic:
                    continue
                count += len(records)
                last_at = now
                last_ts = max(last_ts, *stamps)
    finally:
        await consumer.stop()
    return count, first_at, last_at, first_ts, last_ts, time.perf_counter()


async def _run_child(
    name: str,
    bootstrap: str,
    n: int,
    child_argv: list[str],
    timeout: float,
    hops: int = 1,
) -> Measurement:
    """Prepare topics and input, start the worker child, measure its output, stop it."""
    run_id = uuid.uuid4().hex[:8]
    src, dst = f"bench.{run_id}.in", f"bench.{run_id}.out"
    mid = f"bench.{run_id}.mid"  # used by two-hop variants only
    await create_topics(bootstrap, {src: PARTITIONS, mid: PARTITIONS, dst: PARTITIONS})
    await produce_input(bootstrap, src, make_payloads(n))
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115  # closed below, kept on failure
        prefix=f"bench-{run_id}-", suffix=".log", delete=False
    )
    datadir = tempfile.mkdtemp(prefix=f"bench-faust-{run_id}-")  # faust's table/state dir
    argv = [
        sys.executable,
        __file__,
        *child_argv,
        "--bootstrap",
        bootstrap,
        "--src",
        src,
        "--dst",
        dst,
        "--n",
        str(n),
        "--run-id",
        run_id,
        "--datadir",
        datadir,
    ]
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        count, first_at, last_at, first_ts, last_ts, _ = await _consume_output(
            bootstrap, dst, n, timeout, child, upstream=(mid,) if hops > 1 else ()
        )
    except BaseException:
        log.close()
        tail = "\n".join(Path(log.name).read_text(errors="replace").splitlines()[-30:])
        print(f"[{name}] worker log {log.name}:\n{tail}", file=sys.stderr)
        raise
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        shutil.rmtree(datadir, ignore_errors=True)
    log.close()
    os.unlink(log.name)
    return Measurement(
        name=name,
        n=n,
        received=count,
        span_s=last_at - first_at,
        create_span_s=(last_ts - first_ts) / 1000.0,
        startup_s=first_at - started,
    )


async def measure_aiokafka_loop(bootstrap: str, n: int, timeout: float = 300.0) -> Measurement:
    """Plain aiokafka consume -> produce loop in a child process."""
    return await _run_child("aiokafka loop", bootstrap, n, ["_aiokafka-loop"], timeout)


async def aiokafka_loop(bootstrap: str, n: int) -> float:
    """Msgs/s of a plain aiokafka consume -> produce loop (input topic -> output topic)."""
    return (await measure_aiokafka_loop(bootstrap, n)).rate


async def measure_faust(
    bootstrap: str, n: int, variant: FaustVariant, timeout: float = 600.0
) -> Measurement:
    """A faust passthrough agent in a child worker process."""
    spec = json.dumps(dataclasses.asdict(variant) | {"settings": dict(variant.settings)})
    return await _run_child(
        variant.name,
        bootstrap,
        n,
        ["_faust-worker", "--variant", spec],
        timeout,
        hops=variant.hops,
    )


def faust_passthrough(bootstrap: str, n: int, tuned: bool) -> float:
    """Msgs/s of a minimal faust passthrough agent, default or tuned with batching."""
    return asyncio.run(measure_faust(bootstrap, n, faust_variant(tuned))).rate


# -- the workers under test (run in child processes) -------------------------------------


async def _aiokafka_worker(bootstrap: str, src: str, dst: str, n: int, run_id: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        src,
        bootstrap_servers=bootstrap,
        group_id=f"bench-aiokafka-{run_id}",
        auto_offset_reset="earliest",
        session_timeout_ms=int(SESSION_TIMEOUT_S * 1000),
        heartbeat_interval_ms=int(HEARTBEAT_S * 1000),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1 << 18)
    await consumer.start()
    await producer.start()
    try:
        done = 0
        while done < n:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    await producer.send(dst, record.value, key=record.key)
                done += len(records)
        await producer.flush()
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


def _faust_worker(
    bootstrap: str, src: str, dst: str, run_id: str, spec: dict[str, Any], datadir: str
) -> None:
    import faust

    variant = FaustVariant(**spec)
    app = faust.App(
        f"bench-faust-{run_id}",
        broker=f"kafka://{bootstrap}",
        datadir=datadir,
        web_enabled=False,
        topic_partitions=PARTITIONS,
        broker_session_timeout=SESSION_TIMEOUT_S,
        broker_heartbeat_interval=HEARTBEAT_S,
        **variant.settings,
    )
    serializer = "raw" if variant.raw else None
    names = [src, f"bench.{run_id}.mid", dst] if variant.hops == 2 else [src, dst]
    for hop in range(len(names) - 1):
        _passthrough_agent(app, variant, serializer, names[hop], names[hop + 1], hop)
    app.main()


def _passthrough_agent(
    app: Any, variant: FaustVariant, serializer: str | None, src: str, dst: str, hop: int
) -> None:
    """Register one passthrough agent `src` -> `dst` in the variant's style."""
    source = app.topic(src, partitions=PARTITIONS, value_serializer=serializer)
    sink = app.topic(dst, partitions=PARTITIONS, value_serializer=serializer)
    name = f"passthrough-{hop}"

    if variant.batch:

        @app.agent(source, name=name)
        async def batched(stream: Any) -> None:
            async for events in stream.take_events(variant.batch, within=variant.within):
                for event in events:
                    msg = event.message
                    if variant.producer_send:
                        await app.producer.send(dst, msg.key, msg.value, None, None, None)
                    else:
                        await sink.send(key=event.key, value=event.value)
    elif variant.producer_send:

        @app.agent(source, name=name)
        async def unawaited(stream: Any) -> None:
            async for event in stream.events():
                msg = event.message
                await app.producer.send(dst, msg.key, msg.value, None, None, None)
    else:

        @app.agent(source, name=name)
        async def plain(stream: Any) -> None:
            async for value in stream:
                await sink.send(value=value)


def _child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["_aiokafka-loop", "_faust-worker"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--src", required=True)
    parser.add_argument("--dst", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--variant", default="{}")
    parser.add_argument("--datadir", default=".")
    args = parser.parse_args(argv)
    if args.kind == "_aiokafka-loop":
        asyncio.run(_aiokafka_worker(args.bootstrap, args.src, args.dst, args.n, args.run_id))
    else:
        sys.argv = [sys.argv[0], "worker", "--loglevel", "warn"]
        spec = json.loads(args.variant)
        _faust_worker(args.bootstrap, args.src, args.dst, args.run_id, spec, args.datadir)


# -- command line ------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Start one embedded broker and print the baselines measured on it."""
    args_list = sys.argv[1:] if argv is None else argv
    if args_list and args_list[0].startswith("_"):
        _child_main(args_list)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="records per measurement")
    parser.add_argument(
        "--ablation", action="store_true", help="also measure faust with one technique at a time"
    )
    args = parser.parse_args(args_list)

    with EmbeddedBroker(silent=True) as broker:
        print(
            f"embedded broker {broker.bootstrap}; {args.n} records of ~300 B, "
            f"{PARTITIONS} partitions, {os.cpu_count()} CPUs",
            flush=True,
        )
        results = [asyncio.run(measure_aiokafka_loop(broker.bootstrap, args.n))]
        print(results[-1].line(), flush=True)
        variants = [
            FAUST_DEFAULT,
            *(ABLATION if args.ablation else ()),
            FAUST_TUNED,
            FAUST_TUNED_TWO_HOPS,
        ]
        for variant in variants:
            results.append(asyncio.run(measure_faust(broker.bootstrap, args.n, variant)))
            print(results[-1].line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
