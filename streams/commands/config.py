"""`wavebreak config publish FILE`: validate a routing config, then hot-reload it on workers."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from routing.config import ConfigError, config_version, load_config, summary
from streams.commands._common import add_broker_args, fail, print_err, settings_from_args
from streams.config_source import CONFIG_KEY, config_record
from streams.kafka import client_options

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pub = sub.add_parser(
        "publish",
        help="validate FILE, then publish it to the config topic (workers switch atomically)",
        description="Validate a routing config and publish it to the compacted config topic. "
        "Running workers switch to it without a restart; new decisions carry its version. "
        "Nothing is published if the file has any problem.",
    )
    pub.add_argument("file", help="routing config YAML")
    add_broker_args(pub)
    pub.add_argument(
        "--skip-validation",
        action="store_true",
        help="publish even if invalid (to test that workers refuse it and keep the last good)",
    )


async def _publish(options: dict[str, object], topic: str, value: bytes) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(acks="all", **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=CONFIG_KEY, partition=0)
    finally:
        await producer.stop()


def run(args: argparse.Namespace) -> int:
    """Validate and publish; exit 1 if the config is invalid, 3 if the broker is unreachable."""
    path = Path(args.file)
    version = "unvalidated"
    if not args.skip_validation:
        try:
            config = load_config(path)
        except ConfigError as exc:
            fail(f"{path} is not a valid routing config; nothing published:\n{exc}", 1)
        version = config_version(config)
        print_err(summary(config))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 1)
    settings = settings_from_args(args)
    topic = settings.topic("routing.config")
    value = config_record(text, path.name, datetime.now(UTC))
    try:
        asyncio.run(asyncio.wait_for(_publish(client_options(settings), topic, value), 30))
    except Exception as exc:
        fail(f"publishing to {settings.bootstrap_servers} failed ({type(exc).__name__}: {exc})", 3)
    print_err(f"published {path.name} (version {version}) to {topic}")
    return 0
