"""`wavebreak run`: embedded broker + worker (+ demo traffic and a live summary) in one command."""

from __future__ import annotations

import argparse
import asyncio
import time

from streams.commands._common import fail, print_err, settings_from_args
from streams.commands.worker import add_worker_args, prepare
from streams.config_source import ConfigSource

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "--demo", action="store_true", help="publish realistic demo contacts (RU/EN, every channel)"
    )
    parser.add_argument("--rate", type=float, default=25.0, help="demo contacts per second (25)")
    parser.add_argument(
        "--duration", type=float, default=0.0, help="stop after this many seconds (0: Ctrl-C)"
    )
    parser.add_argument(
        "--summary-every", type=float, default=5.0, help="seconds between summaries (5)"
    )
    parser.add_argument(
        "--broker-port", type=int, default=0, help="embedded broker port (0: a free one)"
    )
    parser.add_argument(
        "--config", help="routing config YAML ($WAVEBREAK_CONFIG, config/open.yaml)"
    )
    parser.add_argument(
        "--production-detector",
        action="store_true",
        help="keep the config's wave detector settings in the demo (default: a fast "
        "detector that learns in a minute, so the demo's waves are detected)",
    )
    add_worker_args(parser)
    parser.set_defaults(loglevel="warning")


def demo_config(source: ConfigSource) -> ConfigSource:
    """The same config with the fast demo detector (a new version, so decisions show it)."""
    from datetime import UTC, datetime

    from routing.config import config_version
    from routing.waves import WaveSettings
    from streams.config_source import ActiveConfig, ConfigSource
    from streams.demo import DEMO_DETECTOR

    base = source.active.config
    detector = WaveSettings(**(base.waves.detector.model_dump() | DEMO_DETECTOR))
    config = base.model_copy(update={"waves": base.waves.model_copy(update={"detector": detector})})
    now = datetime.now(UTC)
    return ConfigSource(
        ActiveConfig(config, config_version(config), f"{source.active.source} + demo detector", now)
    )


def run(args: argparse.Namespace) -> int:
    """Start the embedded broker, then a worker with the demo and summary tasks."""
    from routing.config import ConfigError
    from streams.app import Worker, create_app
    from streams.config_source import DEFAULT_CONFIG, ConfigSource
    from streams.demo import DemoSchedule, DemoTraffic
    from streams.embedded_broker import BrokerUnavailable, EmbeddedBroker, find_free_port
    from streams.summary import render_summary

    try:
        broker = EmbeddedBroker(args.broker_port, silent=True).start()
    except BrokerUnavailable as exc:
        fail(str(exc), 3)
    with broker:
        web_port = args.web_port if args.web_port is not None else find_free_port()
        settings = settings_from_args(
            args,
            broker=broker.url,
            embedded=True,
            web_port=web_port,
            web_host="127.0.0.1",
            config_path=args.config,
        )
        prepare(settings)
        try:
            source = ConfigSource.from_file(settings.config_path or DEFAULT_CONFIG)
        except ConfigError as exc:
            fail(f"the routing config does not load:\n{exc}", 2)
        if args.demo and not args.production_detector:
            source = demo_config(source)
        wb = create_app(settings, config=source)
        print_err(
            f"embedded broker at {broker.bootstrap} (export WAVEBREAK_BROKER={broker.url})\n"
            f"metrics: http://127.0.0.1:{web_port}/metrics\n"
            f"try: wavebreak tail contacts.routed --broker {broker.url}"
        )
        worker = Worker(wb.app, loglevel=args.loglevel)
        started = time.monotonic()

        if args.demo:
            traffic = DemoTraffic()
            schedule = DemoSchedule(args.rate)
            phase_now = [schedule.at(0.0)]

            @wb.app.task
            async def demo() -> None:
                # Paced in small bursts so the rate holds without one sleep per message.
                tick = 0.1
                owed = extra_owed = 0.0
                send = wb.app.producer.send
                while True:
                    phase = schedule.at(time.monotonic() - started)
                    if phase.name != phase_now[0].name:
                        print(f"demo: {phase.name}", flush=True)
                        phase_now[0] = phase
                    owed += args.rate * tick
                    extra_owed += phase.extra_per_s * tick
                    n, owed = int(owed), owed - int(owed)
                    extra, extra_owed = int(extra_owed), extra_owed - int(extra_owed)
                    for _ in range(n):
                        await send(wb.topics.raw, None, next(traffic), None, None, None)
                    for _ in range(extra):
                        raw = traffic.one(phase.channel or "chat", phase.mood)
                        await send(wb.topics.raw, None, raw, None, None, None)
                    await asyncio.sleep(tick)

        @wb.app.timer(args.summary_every)
        async def summary() -> None:
            print(render_summary(wb.metrics, time.monotonic() - started, wb.load()), flush=True)

        if args.duration > 0:

            @wb.app.task
            async def stop_later() -> None:
                await asyncio.sleep(args.duration)
                print(render_summary(wb.metrics, time.monotonic() - started, wb.load()), flush=True)
                await worker.stop()

        try:
            worker.execute_from_commandline()
        except SystemExit as exc:
            return int(exc.code or 0)
    return 0
