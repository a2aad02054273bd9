"""Built-in channel-based route used until a routing config is loaded: human-first defaults."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import MappingProxyType

from routing.channels import Channel
from routing.contact import Contact, Decision, Flag, Target

__all__ = ["BUILTIN_VERSION", "DEFAULT_SLA", "route_by_channel"]

BUILTIN_VERSION = "builtin-0"

# Service-level targets practitioners quote per channel: live channels in seconds or
# minutes, written ones in hours; public posts faster than private mail because others watch.
DEFAULT_SLA: MappingProxyType[Channel, timedelta] = MappingProxyType(
    {
        Channel.VOICE: timedelta(seconds=60),
        Channel.CALLBACK: timedelta(minutes=15),
        Channel.CHAT: timedelta(minutes=2),
        Channel.EMAIL: timedelta(hours=24),
        Channel.SMS: timedelta(hours=4),
        Channel.SOCIAL_PUBLIC: timedelta(hours=1),
        Channel.SOCIAL_PRIVATE: timedelta(hours=4),
        Channel.MESSENGER: timedelta(hours=1),
        Channel.WEB_FORM: timedelta(hours=24),
        Channel.FORUM: timedelta(hours=4),
        Channel.IN_PERSON: timedelta(minutes=10),
    }
)

_LONG_MESSAGE = 1000
_BOT_FIRST = frozenset({Channel.CHAT, Channel.MESSENGER})


def route_by_channel(contact: Contact, now: datetime) -> Decision:
    """Route by channel alone: chats and messengers to a bot first, everything else to people.

    Long messages and public posts always go to people: a long letter deserves a human
    answer and a public post is read by others.
    """
    flags: list[Flag] = []
    reasons: list[str] = []
    if contact.traits.public:
        flags.append(Flag.PUBLIC)
    long_message = contact.text_length >= _LONG_MESSAGE
    if long_message:
        flags.append(Flag.LONG_MESSAGE)
    if contact.channel in _BOT_FIRST and not long_message:
        target = Target.BOT
        reasons.append(f"{contact.channel.value}: self-service first")
        queue = f"bot-{contact.channel.value}"
    else:
        target = Target.QUEUE
        reasons.append(f"{contact.channel.value}: handled by people in the same channel")
        if long_message:
            reasons.append(f"long message ({contact.text_length} chars) deserves a human answer")
        queue = contact.channel.value
    priority = 50 + (20 if contact.traits.synchronous else 0) + (10 if contact.traits.public else 0)
    return Decision(
        contact_id=contact.id,
        event_id=contact.event_id,
        customer_key=contact.customer_key,
        channel=contact.channel,
        target=target,
        queue=queue,
        priority=min(priority, 100),
        reply_channel=contact.channel,
        strategy="open",
        wave_level="normal",
        rule_id="builtin.channel-default",
        reasons=tuple(reasons),
        flags=tuple(flags),
        sla_due_at=contact.received_at + DEFAULT_SLA[contact.channel],
        config_version=BUILTIN_VERSION,
        received_at=contact.received_at,
        decided_at=now,
    )
