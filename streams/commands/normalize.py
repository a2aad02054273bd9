"""`wavebreak normalize`: offline, raw envelopes (JSONL) -> contacts or dead letters (JSONL)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from streams.codecs import encode_model
from streams.commands._common import print_err
from streams.ingest import DeadLetter, Normalizer, Source

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument(
        "input",
        nargs="?",
        default="-",
        help="JSONL file of envelopes, one per line ('-' or omitted: stdin)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any line is dead-lettered"
    )
    parser.add_argument(
        "--phone-region", default="RU", help="region for numbers without a country code"
    )


def run(args: argparse.Namespace) -> int:
    """Print one JSON object per input line: the contact, or the dead letter with its reason."""
    normalizer = Normalizer(phone_region=args.phone_region)
    stream = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    out = sys.stdout.buffer
    reasons: Counter[str] = Counter()
    contacts = 0
    with stream:
        for lineno, line in enumerate(stream, start=1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            result = normalizer(raw, Source(topic=args.input, partition=0, offset=lineno))
            if isinstance(result, DeadLetter):
                reasons[result.reason.value] += 1
            else:
                contacts += 1
            out.write(encode_model(result) + b"\n")
    out.flush()
    dead = sum(reasons.values())
    detail = ", ".join(f"{r}={n}" for r, n in sorted(reasons.items()))
    print_err(f"{contacts} contacts, {dead} dead letters{f' ({detail})' if detail else ''}")
    return 1 if args.strict and dead else 0
