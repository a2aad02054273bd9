"""The `wavebreak` command line: one argparse tree, each command in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["main"]


@dataclass(frozen=True, slots=True)
class _Command:
    """A subcommand implemented by a module with `configure(parser)` and `run(args) -> int`."""

    name: str
    module: str
    help: str


# Modules are imported lazily so `wavebreak --help` and `wavebreak normalize` stay fast
# and never pay for importing faust.
_COMMANDS: tuple[_Command, ...] = (
    _Command(
        "run", "streams.commands.run", "embedded broker + worker (+ --demo traffic) in one process"
    ),
    _Command("worker", "streams.commands.worker", "run a routing worker against a Kafka cluster"),
    _Command("broker", "streams.commands.broker", "run the embedded Kafka-protocol broker (Tansu)"),
    _Command("publish", "streams.commands.publish", "publish contact envelopes from a JSONL file"),
    _Command("tail", "streams.commands.tail", "print a topic's records as JSON lines"),
    _Command(
        "normalize",
        "streams.commands.normalize",
        "offline: raw envelopes -> contacts or dead letters",
    ),
    _Command(
        "schema", "streams.commands.schema", "print the JSON Schema of the envelope or a channel"
    ),
    _Command("validate", "streams.commands.validate", "check routing config files (file:line)"),
    _Command("config", "streams.commands.config", "publish a routing config to running workers"),
    _Command("route", "streams.commands.route", "offline: envelopes -> decisions (JSONL)"),
    _Command("explain", "streams.commands.explain", "offline: why each contact goes where"),
)

_EVAL_COMMANDS: tuple[_Command, ...] = (
    _Command(
        "sentiment", "streams.evaluate.sentiment", "precision/recall/F1 and texts/s on labelled CSV"
    ),
    _Command(
        "waves", "streams.evaluate.waves", "replay an arrival trace through the wave detector"
    ),
)


def _add(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], cmd: _Command) -> None:
    module = importlib.import_module(cmd.module)
    parser = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.help)
    module.configure(parser)
    parser.set_defaults(_run=module.run)


def _build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wavebreak",
        description="wavebreak: route every customer contact to a bot, a queue or a senior.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only import the module of the command being run; `--help` lists all of them.
    wanted = argv[0] if argv else None
    for cmd in _COMMANDS:
        if wanted in (None, "-h", "--help") or wanted == cmd.name:
            _add(sub, cmd)
        else:
            sub.add_parser(cmd.name, help=cmd.help, add_help=False)
    eval_parser = sub.add_parser("eval", help="offline evaluation with printed figures")
    eval_sub = eval_parser.add_subparsers(dest="eval_command", metavar="WHAT")
    if wanted == "eval":
        for cmd in _EVAL_COMMANDS:
            _add(eval_sub, cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `wavebreak` console script; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(args_list)
    args = parser.parse_args(args_list)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    from streams.commands._common import CommandError

    try:
        return int(run(args))
    except CommandError as exc:
        print(f"wavebreak: error: {exc}", file=sys.stderr)
        return exc.code
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"wavebreak: error: cannot open {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `wavebreak tail ... | head` closes stdout early; that is not an error.
        return 0


if __name__ == "__main__":
    sys.exit(main())
