"""`wavebreak publish`: publish contact envelopes from a JSONL file (or stdin) to contacts.raw."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Iterator
from typing import BinaryIO

import orjson

from streams.commands._common import (
    add_broker_args,
    fail,
    print_err,
    settings_from_args,
    topic_name,
)
from streams.ingest import DeadLetter, Normalizer, Source
from streams.kafka import client_options
from streams.settings import Settings

__all__ = ["configure", "publish_lines", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("file", help="JSONL file with one envelope per line, '-' for stdin")
    add_broker_args(parser)
    parser.add_argument(
        "--topic", default="contacts.raw", help="topic (short or full name; contacts.raw)"
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="normalize every line locally first; publish nothing if any line is invalid",
    )


def _lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for lineno, line in enumerate(stream, start=1):
        raw = line.rstrip(b"\r\n")
        if raw.strip():
            yield lineno, raw


def _key(raw: bytes) -> bytes | None:
    # Keying by event_id keeps an adapter's retries on one partition; anything that is not
    # an envelope is still published (the worker dead-letters it with a reason).
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    event_id = value.get("event_id") if isinstance(value, dict) else None
    return event_id.encode() if isinstance(event_id, str) else None


async def publish_lines(settings: Settings, topic: str, lines: list[bytes]) -> int:
    """Publish raw lines to `topic`; return how many the broker acknowledged."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        acks="all", linger_ms=5, max_request_size=2 * 1024 * 1024, **client_options(settings)
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, raw, key=_key(raw)) for raw in lines]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(lines)


def run(args: argparse.Namespace) -> int:
    """Publish the file; exit 1 on invalid lines with --validate, 3 if the broker is unreachable."""
    settings = settings_from_args(args)
    topic = topic_name(settings, args.topic)
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115
    with stream:
        numbered = list(_lines(stream))
    if args.validate:
        normalizer = Normalizer(phone_region=settings.phone_region)
        bad = []
        for lineno, raw in numbered:
            result = normalizer(raw, Source(topic=args.file, partition=0, offset=lineno))
            if isinstance(result, DeadLetter):
                bad.append(f"  line {lineno}: {result.reason.value}: {result.message}")
        if bad:
            fail(f"{len(bad)} invalid line(s), nothing published:\n" + "\n".join(bad[:50]), 1)
    try:
        sent = asyncio.run(
            asyncio.wait_for(publish_lines(settings, topic, [r for _, r in numbered]), 60)
        )
    except Exception as exc:
        fail(
            f"publishing to {settings.bootstrap_servers} failed ({type(exc).__name__}: {exc}). "
            "Is the broker running? Check --broker / $WAVEBREAK_BROKER.",
            3,
        )
    print_err(f"published {sent} record(s) to {topic}")
    return 0
