"""`wavebreak route`: offline, raw envelopes (JSONL) -> decisions (JSONL), in event order."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from streams.codecs import encode_model
from streams.commands._common import print_err
from streams.offline import load_router, open_input

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments (shared with `explain`)."""
    parser.add_argument("--config", required=True, metavar="FILE", help="routing config YAML")
    parser.add_argument(
        "input",
        nargs="?",
        default="-",
        help="JSONL file of raw envelopes in event order ('-' or omitted: stdin)",
    )
    parser.add_argument(
        "--capacity",
        metavar="FILE",
        help='static queue capacity snapshot, JSON {"queue": {"in_flight": n, "limit": m}}',
    )
    parser.add_argument(
        "--phone-region", default="RU", help="region for numbers without a country code"
    )


def run(args: argparse.Namespace) -> int:
    """Print one JSON line per input line: the decision, or the dead letter; summary on stderr."""
    router = load_router(args)
    out = sys.stdout.buffer
    targets: Counter[str] = Counter()
    dead = duplicates = 0
    with open_input(args.input) as stream:
        for result in router.run(stream):
            if result.decision is not None:
                targets[result.decision.target.value] += 1
                out.write(encode_model(result.decision) + b"\n")
            elif result.dead is not None:
                dead += 1
                out.write(encode_model(result.dead) + b"\n")
            else:
                duplicates += 1
    out.flush()
    routed = ", ".join(f"{t}={n}" for t, n in sorted(targets.items()))
    print_err(
        f"{sum(targets.values())} decisions ({routed or 'none'}), {dead} dead letters, "
        f"{duplicates} duplicates; config {router.config.version}"
    )
    return 0
