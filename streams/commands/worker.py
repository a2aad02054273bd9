"""`wavebreak worker`: run one routing worker (scale out by running more with the same app id)."""

from __future__ import annotations

import argparse
import asyncio

from streams.commands._common import add_broker_args, fail, print_err, settings_from_args
from streams.kafka import BrokerUnreachable, ensure_topics
from streams.settings import Settings

__all__ = ["add_worker_args", "configure", "run", "start_worker"]


def add_worker_args(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by `worker` and `run`."""
    parser.add_argument("--web-port", type=int, help="port of /metrics and /healthz (6066)")
    parser.add_argument(
        "--partitions", type=int, help="partitions of data topics created at startup (4)"
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    add_broker_args(parser)
    add_worker_args(parser)
    parser.add_argument(
        "--config", help="routing config YAML to start with ($WAVEBREAK_CONFIG, config/open.yaml)"
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="the broker is wavebreak's embedded Tansu (applies its workarounds)",
    )


def prepare(settings: Settings) -> None:
    """Create missing topics with their partition counts, or fail with what to do."""
    if not settings.create_topics:
        return
    try:
        asyncio.run(ensure_topics(settings))
    except BrokerUnreachable as exc:
        fail(str(exc), 3)


def start_worker(settings: Settings, loglevel: str, **app_kwargs: object) -> int:
    """Create topics, build the app and run a faust worker until it is stopped."""
    from routing.config import ConfigError
    from streams.app import Worker, create_app

    try:
        wb = create_app(settings, **app_kwargs)  # type: ignore[arg-type]
    except ConfigError as exc:
        fail(f"the routing config does not load:\n{exc}", 2)
    prepare(settings)
    print_err(
        f"wavebreak worker: broker {settings.broker}, topics '{settings.topic_prefix}.*', "
        f"metrics on http://127.0.0.1:{settings.web_port}/metrics"
    )
    worker = Worker(wb.app, loglevel=loglevel)
    worker.execute_from_commandline()
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the worker in the foreground."""
    settings = settings_from_args(
        args, embedded=True if args.embedded else None, config_path=args.config
    )
    return start_worker(settings, args.loglevel)
