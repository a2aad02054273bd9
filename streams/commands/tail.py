"""`wavebreak tail TOPIC`: print a topic's records as JSON lines (decisions, dead letters, ...)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
import time

import orjson

from streams.commands._common import add_broker_args, fail, settings_from_args, topic_name
from streams.kafka import client_options

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "topic", help="topic, short (contacts.routed, contacts.dlq, route.senior) or full name"
    )
    add_broker_args(parser)
    parser.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest record, not the end"
    )
    parser.add_argument("--limit", type=int, default=0, help="stop after N records (0: never)")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=0.0,
        help="stop after this many seconds without a record (0: never)",
    )


def _line(value: bytes | None) -> bytes:
    if value is None:
        return b"null"
    try:
        return orjson.dumps(orjson.loads(value))
    except orjson.JSONDecodeError:
        return orjson.dumps({"raw_b64": base64.b64encode(value).decode()})


async def _tail(args: argparse.Namespace) -> int:
    from aiokafka import AIOKafkaConsumer

    settings = settings_from_args(args)
    topic = topic_name(settings, args.topic)
    consumer = AIOKafkaConsumer(
        topic,
        group_id=None,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
        **client_options(settings),
    )
    try:
        await asyncio.wait_for(consumer.start(), 30)
    except Exception as exc:
        fail(f"cannot consume {topic} from {settings.bootstrap_servers}: {exc}", 3)
    out = sys.stdout.buffer
    count = 0
    last = time.monotonic()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batch.values():
                for rec in records:
                    out.write(_line(rec.value) + b"\n")
                    count += 1
                    if args.limit and count >= args.limit:
                        out.flush()
                        return 0
            if batch:
                out.flush()
                last = time.monotonic()
            elif args.idle_timeout and time.monotonic() - last >= args.idle_timeout:
                return 0
    finally:
        await consumer.stop()


def run(args: argparse.Namespace) -> int:
    """Tail until Ctrl-C, --limit or --idle-timeout."""
    return asyncio.run(_tail(args))
