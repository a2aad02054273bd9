"""Channel taxonomy: every way a customer reaches us, and the traits routing cares about."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["CHANNEL_TRAITS", "Channel", "ChannelTraits", "traits_of"]


class Channel(StrEnum):
    """A contact channel; the value is the wire name adapters put in the envelope."""

    VOICE = "voice"
    CALLBACK = "callback"
    CHAT = "chat"
    EMAIL = "email"
    SMS = "sms"
    SOCIAL_PUBLIC = "social_public"
    SOCIAL_PRIVATE = "social_private"
    MESSENGER = "messenger"
    WEB_FORM = "web_form"
    FORUM = "forum"
    IN_PERSON = "in_person"


@dataclass(frozen=True, slots=True)
class ChannelTraits:
    """What routing needs to know about a channel, independent of any one contact.

    Attributes:
        voice: the conversation is spoken (a call, a callback); bots there are IVR/voicebots.
        synchronous: the customer is waiting live (on the line, in a chat window, at a desk),
            so the SLA is seconds to minutes rather than hours.
        public: other people can read the contact and our answer (social posts, forums);
            never ask for personal data there.
        written: the contact normally carries text we can analyse.
    """

    voice: bool
    synchronous: bool
    public: bool
    written: bool


# Messengers are treated as asynchronous: customers expect a reply within minutes, but
# they do not hold a session open the way a web chat does.
CHANNEL_TRAITS: MappingProxyType[Channel, ChannelTraits] = MappingProxyType(
    {
        Channel.VOICE: ChannelTraits(voice=True, synchronous=True, public=False, written=False),
        Channel.CALLBACK: ChannelTraits(voice=True, synchronous=False, public=False, written=False),
        Channel.CHAT: ChannelTraits(voice=False, synchronous=True, public=False, written=True),
        Channel.EMAIL: ChannelTraits(voice=False, synchronous=False, public=False, written=True),
        Channel.SMS: ChannelTraits(voice=False, synchronous=False, public=False, written=True),
        Channel.SOCIAL_PUBLIC: ChannelTraits(
            voice=False, synchronous=False, public=True, written=True
        ),
        Channel.SOCIAL_PRIVATE: ChannelTraits(
            voice=False, synchronous=False, public=False, written=True
        ),
        Channel.MESSENGER: ChannelTraits(
            voice=False, synchronous=False, public=False, written=True
        ),
        Channel.WEB_FORM: ChannelTraits(voice=False, synchronous=False, public=False, written=True),
        Channel.FORUM: ChannelTraits(voice=False, synchronous=False, public=True, written=True),
        Channel.IN_PERSON: ChannelTraits(
            voice=False, synchronous=True, public=False, written=False
        ),
    }
)


def traits_of(channel: Channel) -> ChannelTraits:
    """Return the traits of a channel."""
    return CHANNEL_TRAITS[channel]
