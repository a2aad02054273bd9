"""`wavebreak validate`: check routing config files; print every problem or version + summary."""

from __future__ import annotations

import argparse

from routing.config import ConfigError, load_config, summary
from streams.commands._common import print_err

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="routing config YAML files")


def run(args: argparse.Namespace) -> int:
    """Validate each file; exit 1 when any has a problem (all files are checked)."""
    failed = 0
    for path in args.files:
        try:
            config = load_config(path)
        except ConfigError as exc:
            failed += 1
            for problem in exc.problems:
                print(problem)
            continue
        print(f"{path}: OK, version {config.version}")
        print(f"  {summary(config)}")
    if failed:
        print_err(f"{failed} of {len(args.files)} config file(s) invalid")
    return 1 if failed else 0
