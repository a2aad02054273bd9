"""`wavebreak broker`: run the embedded Kafka-protocol broker (Tansu) in the foreground."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from streams.embedded_broker import DEFAULT_HOST, BrokerUnavailable, EmbeddedBroker

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of `wavebreak broker` to `parser`.

    Args:
        parser: The subcommand's parser.
    """
    parser.add_argument(
        "--port", type=int, default=0, help="TCP port to listen on (default: 0, a free port)"
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        choices=[DEFAULT_HOST],
        help="interface to listen on; loopback only, the broker has no authentication",
    )
    parser.add_argument(
        "--log-file",
        default=None,
        help="write the broker's own output here (default: a temporary file, removed on exit)",
    )


def run(args: argparse.Namespace) -> int:
    """Start the broker, print how to use it and block until Ctrl-C or SIGTERM.

    Args:
        args: Parsed options from `configure`.

    Returns:
        0 after a clean stop, 1 when the broker cannot start or dies on its own.
    """
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    broker = EmbeddedBroker(args.port, host=args.host, log_path=args.log_file)
    try:
        try:
            broker.start()
        except BrokerUnavailable as exc:
            print(f"wavebreak broker: {exc}", file=sys.stderr)
            return 1
        print(
            f"Embedded Kafka-protocol broker (Tansu, in-memory) listening on {broker.bootstrap}\n"
            f"  bootstrap servers: {broker.bootstrap}\n"
            f"  broker log:        {broker.log_path}\n"
            "Use it from another shell:\n"
            f"  export WAVEBREAK_BROKER={broker.url}\n"
            "Everything is kept in memory and lost when it stops. Press Ctrl-C to stop.",
            flush=True,
        )
        while not stop.wait(0.5):
            if not broker.running:
                print(
                    f"wavebreak broker: the broker process exited; see {broker.log_path}",
                    file=sys.stderr,
                )
                return 1
        print("Stopping the broker.", file=sys.stderr, flush=True)
        return 0
    finally:
        broker.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
