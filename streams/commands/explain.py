"""`wavebreak explain`: offline, print each contact's routing decision and its reasons."""

from __future__ import annotations

import argparse
import sys

from streams.commands import route as route_command
from streams.commands._common import print_err
from streams.offline import OfflineResult, load_router, open_input

__all__ = ["configure", "explain", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments (the same as `wavebreak route`)."""
    route_command.configure(parser)


def explain(result: OfflineResult) -> str:
    """A readable block for one input line (no customer text, only what routing used)."""
    if result.dead is not None:
        dead = result.dead
        return (
            f"line {result.line}: dead letter {dead.reason.value} "
            f"({dead.field or '-'}): {dead.message}\n"
        )
    contact = result.contact
    if result.decision is None or contact is None:
        ident = contact.event_id if contact is not None else "?"
        return f"line {result.line}: duplicate of an earlier contact (event {ident}), not routed\n"
    d = result.decision
    lines = [
        f"line {result.line}: {d.channel.value} {contact.language} event {d.event_id} "
        f"customer {d.customer_key} at {d.received_at.isoformat()}",
        f"  -> {d.target.value.upper()} queue {d.queue}, priority {d.priority}, "
        f"reply via {d.reply_channel.value}, SLA due {d.sla_due_at.isoformat()}",
        f"     rule {d.rule_id}; strategy {d.strategy}; load {d.wave_level}; "
        f"config {d.config_version}",
    ]
    if d.flags:
        lines.append(f"     flags: {', '.join(f.value for f in d.flags)}")
    for reason in d.reasons:
        lines.append(f"     - {reason}")
    if result.signals is not None:
        s = result.signals.sentiment
        cues = ", ".join(sorted(c.value for c in s.service_cues)) or "none"
        intents = ", ".join(f"{m.intent} ({m.score:.2f})" for m in result.signals.intents)
        lines.append(
            f"     signals: sentiment {s.score:+.2f} {s.label}; cues {cues}; "
            f"intents {intents or 'none'}; {contact.text_length} chars; "
            f"tier {contact.customer_tier or '-'}; earlier contacts {result.earlier_contacts}"
        )
    if result.triggers:
        lines.append(f"     senior triggers: {', '.join(result.triggers)}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print one block per input line."""
    router = load_router(args)
    out = sys.stdout
    count = 0
    with open_input(args.input) as stream:
        for result in router.run(stream):
            out.write(explain(result))
            count += 1
    out.flush()
    print_err(f"{count} lines explained; config {router.config.version}")
    return 0
