"""Shared command-line plumbing: broker arguments, settings with readable errors, exits."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from pydantic import ValidationError

from streams.settings import Settings

__all__ = ["CommandError", "add_broker_args", "fail", "settings_from_args", "topic_name"]


class CommandError(Exception):
    """A user-facing error: printed without a traceback, exits with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    """Raise a CommandError (the CLI prints `wavebreak: error: ...` and exits with `code`)."""
    raise CommandError(message, code)


def add_broker_args(parser: argparse.ArgumentParser) -> None:
    """Add --broker and --topic-prefix (defaults from WAVEBREAK_* variables)."""
    parser.add_argument(
        "--broker",
        metavar="URL",
        help="kafka://HOST:PORT[,kafka://HOST:PORT] (default: $WAVEBREAK_BROKER "
        f"or {Settings.model_fields['broker'].default})",
    )
    parser.add_argument(
        "--topic-prefix",
        metavar="PREFIX",
        help="topic name prefix (default: $WAVEBREAK_TOPIC_PREFIX or 'wavebreak')",
    )


def settings_from_args(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Build Settings from the environment plus command-line overrides; explain bad values."""
    values: dict[str, Any] = {}
    for name in ("broker", "topic_prefix", "partitions", "web_port"):
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        lines = []
        for err in exc.errors(include_url=False, include_input=False):
            field = ".".join(str(p) for p in err["loc"])
            env = f"WAVEBREAK_{field.upper()}"
            source = "command line" if field in values else f"${env}" if env in os.environ else ""
            lines.append(f"  {field}{f' ({source})' if source else ''}: {err['msg']}")
        fail("invalid settings:\n" + "\n".join(lines), 2)


def topic_name(settings: Settings, name: str) -> str:
    """Accept a full topic name or a short one like 'contacts.routed' (prefix added)."""
    if name.startswith(settings.topic_prefix + "."):
        return name
    return settings.topic(name)


def print_err(message: str) -> None:
    """Print to stderr (progress and summaries stay out of data on stdout)."""
    print(message, file=sys.stderr, flush=True)
