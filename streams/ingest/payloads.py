"""Payload models per channel: the shape each channel adapter publishes inside the envelope."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from routing.channels import Channel

__all__ = [
    "PAYLOAD_MODELS",
    "CallbackRequest",
    "ChatMessage",
    "EmailMessage",
    "ForumPost",
    "InPersonVisit",
    "MessengerMessage",
    "PayloadBase",
    "SmsMessage",
    "SocialPrivateMessage",
    "SocialPublicPost",
    "VoiceCall",
    "WebForm",
    "payload_model",
]

# Bounded strings keep one adapter's bug from pushing megabytes into every downstream record.
Id = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[
    str, Field(min_length=3, max_length=40, description="any common format; normalized to E.164")
]
EmailAddr = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
]
Handle = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=200_000)]
Short = Annotated[str, Field(max_length=500)]


class PayloadBase(BaseModel):
    """Fields every channel may carry when the adapter knows them."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    customer_id: Id | None = Field(
        default=None, description="CRM customer id; the strongest identity, used first"
    )
    customer_tier: Annotated[str, Field(max_length=50)] | None = Field(
        default=None, description="segment or tier known to the adapter, e.g. 'vip', 'premium'"
    )
    language: Literal["ru", "en"] | None = Field(
        default=None, description="language hint; detected from the text when absent"
    )


class VoiceCall(PayloadBase):
    """An inbound phone call as the ACD/IVR sees it when it asks where to put the caller."""

    call_id: Id
    caller_number: Phone
    dialed_number: Phone | None = None
    ivr_path: list[Annotated[str, Field(max_length=100)]] = Field(
        default_factory=list,
        max_length=50,
        description="menu choices in order, e.g. ['2', 'orders']",
    )
    wait_seconds: float = Field(default=0.0, ge=0, le=86_400, description="time in queue so far")
    transcript: Text | None = Field(
        default=None, description="speech-to-text of what was said so far"
    )


class CallbackRequest(PayloadBase):
    """A request to be called back (web widget, IVR 'press 1 to be called back', app)."""

    phone: Phone
    requested_for: AwareDatetime | None = Field(default=None, description="preferred callback time")
    topic: Short | None = None
    comment: Text | None = None
    origin: Literal["web", "ivr", "app", "other"] = "web"


class ChatMessage(PayloadBase):
    """A web or in-app chat session's opening message."""

    session_id: Id
    text: Text
    visitor_id: Id | None = None
    email: EmailAddr | None = None
    phone: Phone | None = None
    page_url: Short | None = None


class EmailMessage(PayloadBase):
    """An inbound email."""

    from_: EmailAddr = Field(alias="from")
    to: list[EmailAddr] = Field(default_factory=list, max_length=100)
    cc: list[EmailAddr] = Field(default_factory=list, max_length=100)
    subject: Text = ""
    body: Text = ""
    message_id: Short | None = None
    in_reply_to: Short | None = None
    thread_id: Short | None = None
    attachments: int = Field(default=0, ge=0, le=1000, description="number of attachments")


class SmsMessage(PayloadBase):
    """An inbound SMS."""

    from_number: Phone
    to_number: Phone | None = None
    text: Text


Network = Annotated[
    str, Field(min_length=1, max_length=50, description="vk, telegram, x, facebook, ...")
]


class SocialPublicPost(PayloadBase):
    """A public post, comment or review that mentions us: other people read it and our answer."""

    network: Network
    author_handle: Handle
    url: Short
    text: Text
    post_id: Id | None = None
    reply_to: Short | None = Field(
        default=None, description="url or id of the post this replies to"
    )
    kind: Literal["post", "comment", "review", "mention"] = "post"
    author_followers: int | None = Field(default=None, ge=0, description="reach of the author")


class SocialPrivateMessage(PayloadBase):
    """A private (direct) message to our account on a social network."""

    network: Network
    author_handle: Handle
    conversation_id: Id
    text: Text


class MessengerMessage(PayloadBase):
    """A message in a messenger (WhatsApp, Telegram, Viber, ...)."""

    messenger: Network
    chat_id: Id
    user_handle: Handle | None = None
    phone: Phone | None = None
    text: Text


class WebForm(PayloadBase):
    """A contact/feedback form submitted on the website or in the app."""

    form_id: Id
    message: Text
    email: EmailAddr | None = None
    phone: Phone | None = None
    subject: Text | None = None
    topic: Short | None = None
    order_id: Short | None = None


class ForumPost(PayloadBase):
    """A post in a public forum or community thread."""

    forum: Network
    author_handle: Handle
    thread_id: Id
    url: Short
    text: Text
    title: Text | None = None
    reply_to: Short | None = None


class InPersonVisit(PayloadBase):
    """A customer who took a queue ticket in a branch or store."""

    location_kind: Literal["branch", "store"]
    location_id: Id
    ticket_number: Annotated[str, Field(min_length=1, max_length=20)]
    ticket_topic: Short
    phone: Phone | None = None
    wait_minutes: float = Field(default=0.0, ge=0, le=1440)
    note: Text | None = Field(default=None, description="what the customer told the greeter")


PAYLOAD_MODELS: dict[Channel, type[PayloadBase]] = {
    Channel.VOICE: VoiceCall,
    Channel.CALLBACK: CallbackRequest,
    Channel.CHAT: ChatMessage,
    Channel.EMAIL: EmailMessage,
    Channel.SMS: SmsMessage,
    Channel.SOCIAL_PUBLIC: SocialPublicPost,
    Channel.SOCIAL_PRIVATE: SocialPrivateMessage,
    Channel.MESSENGER: MessengerMessage,
    Channel.WEB_FORM: WebForm,
    Channel.FORUM: ForumPost,
    Channel.IN_PERSON: InPersonVisit,
}


def payload_model(channel: Channel) -> type[PayloadBase]:
    """Return the payload model adapters of `channel` publish."""
    return PAYLOAD_MODELS[channel]
