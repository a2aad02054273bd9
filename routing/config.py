"""Routing config: the schema of the ops YAML, its loader with line numbers, and its version."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal, Self

import orjson
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from routing.channels import CHANNEL_TRAITS, Channel
from routing.contact import Strategy, Target
from routing.intents import DEFAULT_INTENTS
from routing.sentiment.cues import ServiceCue
from routing.waves import WaveLevel, WaveSettings

__all__ = [
    "FAMILIES",
    "ChannelSettings",
    "ClosedSettings",
    "ConfigError",
    "ConfigProblem",
    "Family",
    "IntentSettings",
    "MemorySettings",
    "OpenSettings",
    "PrioritySettings",
    "QueueSettings",
    "RepeatTrigger",
    "RoutingConfig",
    "Rule",
    "RuleRoute",
    "RuleWhen",
    "SeniorTriggers",
    "SentimentSettings",
    "WaveBehaviour",
    "WavesSettings",
    "config_version",
    "family_of",
    "load_config",
    "parse_config",
    "summary",
]


class Family(StrEnum):
    """Channel families that routing treats alike.

    `voice` (calls, callbacks), `sync` (the customer waits live: chat, a branch visit),
    `async` (written, answered later: email, SMS, messengers, forms, private DMs) and
    `public` (others read it: social posts, forums). Public wins over the rest.
    """

    VOICE = "voice"
    SYNC = "sync"
    ASYNC = "async"
    PUBLIC = "public"


FAMILIES: Final = tuple(Family)


def family_of(channel: Channel, public: bool | None = None) -> Family:
    """The family of a channel (`public` overrides the channel's own public trait)."""
    traits = CHANNEL_TRAITS[channel]
    if traits.public if public is None else public:
        return Family.PUBLIC
    if traits.voice:
        return Family.VOICE
    return Family.SYNC if traits.synchronous else Family.ASYNC


Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
"""Queue, rule and intent names: lowercase, they end up in metric labels."""


class _Model(BaseModel):
    # Unknown keys are errors everywhere: a typo must not silently fall back to a default.
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelSettings(_Model):
    """How one channel is served."""

    sla_seconds: float = Field(gt=0, description="First-response target; the SLA due time.")
    public: bool | None = Field(
        default=None, description="Override whether others read it (default: channel trait)."
    )
    humans_when_closed: bool = Field(
        default=False,
        description="Under the closed strategy humans still take this channel "
        "(bots first only for self-service intents).",
    )
    reply_channels: tuple[Channel, ...] = Field(
        default=(),
        description="Channels we may answer in instead of this one (e.g. callback for voice).",
    )
    offer_callback: bool = Field(
        default=False,
        description="Offer a callback instead of holding when humans are not available "
        "right away (closed strategy, or a wave); needs `callback` in reply_channels.",
    )
    queue: Name = Field(description="Default human queue for this channel.")
    bot_queue: Name | None = Field(
        default=None, description="Self-service (bot / IVR) queue; none: no bot here."
    )


class QueueSettings(_Model):
    """A queue of human agents (or of a bot) and what it serves."""

    channels: tuple[Channel, ...] = Field(
        default=(), description="Channels it serves; empty: only when named explicitly."
    )
    languages: tuple[Literal["ru", "en", "other"], ...] = Field(
        default=(), description="Languages its agents speak; empty: any."
    )
    skills: tuple[Name, ...] = Field(
        default=(), description="Intents it specialises in; empty: any intent."
    )
    capacity: int | None = Field(
        default=None,
        ge=0,
        description="Concurrent contacts it takes (a hint; the capacity snapshot overrides it).",
    )
    overflow: Name | None = Field(default=None, description="Queue to use when this one is full.")
    bot: bool = Field(default=False, description="A self-service queue (bot, IVR).")


class IntentSettings(_Model):
    """Intent catalogue and what self-service may do with each intent."""

    use_defaults: bool = Field(
        default=True, description="Start from the built-in retail/banking/telecom catalogue."
    )
    catalogue: dict[Name, dict[Literal["ru", "en"], tuple[str, ...]]] = Field(
        default_factory=dict,
        description="Intents to add, or to replace (same id) in the built-in catalogue.",
    )
    self_service: tuple[Name, ...] = Field(
        default=(), description="Intents a bot can resolve end to end (closed strategy)."
    )
    trivial: tuple[Name, ...] = Field(
        default=(),
        description="Self-service intents simple enough for a bot even under the open strategy.",
    )
    needs_personal_data: tuple[Name, ...] = Field(
        default=(),
        description="Intents we cannot resolve without personal data (public -> move to private).",
    )


class RepeatTrigger(_Model):
    """Repeated contacts within a window, across channels."""

    count: int = Field(ge=2, description="Contacts in the window, this one included.")
    window_seconds: float = Field(gt=0)


class SeniorTriggers(_Model):
    """When a senior specialist takes the contact, whatever the strategy."""

    queue: Name = Field(default="senior")
    sentiment_below: float | None = Field(default=-0.6, ge=-1, le=1)
    rolling_sentiment_below: float | None = Field(
        default=None, ge=-1, le=1, description="The customer's rolling sentiment (memory)."
    )
    repeat: RepeatTrigger | None = Field(
        default_factory=lambda: RepeatTrigger(count=3, window_seconds=7 * 86400.0)
    )
    long_message_chars: int | None = Field(default=800, ge=1)
    tiers: tuple[str, ...] = Field(default=("vip",))
    public_negative_below: float | None = Field(
        default=-0.3, ge=-1, le=1, description="A public post at or below this score."
    )
    recent_public_negative: bool = Field(
        default=True,
        description="A customer whose recent public post was negative and who now contacts "
        "us in any channel.",
    )
    cues: tuple[ServiceCue, ...] = Field(default=(ServiceCue.LEGAL_THREAT, ServiceCue.CHURN_THREAT))
    priority: int = Field(default=80, ge=0, le=100, description="Priority floor of seniors.")


class PrioritySettings(_Model):
    """Priority in 0..100: a base per family plus tier, emotion and repeat points."""

    base: dict[Family, int] = Field(
        default_factory=lambda: {
            Family.VOICE: 60,
            Family.SYNC: 55,
            Family.ASYNC: 30,
            Family.PUBLIC: 45,
        }
    )
    tiers: dict[str, int] = Field(default_factory=lambda: {"vip": 30, "premium": 15})
    negative_points: int = Field(
        default=30, ge=0, le=100, description="Points at sentiment -1 (linear from 0)."
    )
    repeat_points: int = Field(default=5, ge=0, le=100, description="Points per earlier contact.")
    repeat_max: int = Field(default=20, ge=0, le=100)
    human_request_points: int = Field(default=5, ge=0, le=100)

    @field_validator("base")
    @classmethod
    def _all_families(cls, base: dict[Family, int]) -> dict[Family, int]:
        missing = [f.value for f in FAMILIES if f not in base]
        if missing:
            raise ValueError(f"needs every family; missing {missing}")
        return base


class OpenSettings(_Model):
    """The open strategy: people first."""

    bots_for_trivial: bool = Field(
        default=True, description="Trivial intents (intents.trivial) go to the bot."
    )


class ClosedSettings(_Model):
    """The closed strategy: bots and self-service first."""

    unmatched: Literal["bot", "queue"] = Field(
        default="bot",
        description="No intent recognised: the bot triages (bot) or people do (queue).",
    )


class WaveBehaviour(_Model):
    """What changes while a channel is at one wave level."""

    strategy: Strategy | None = Field(
        default=None, description="Strategy while the level lasts (none: keep the configured)."
    )
    deflect_harder: bool = Field(
        default=False,
        description="Closed: only escalations (seniors, explicit human requests, ops rules) "
        "reach humans.",
    )
    offer_callback: bool = Field(
        default=False, description="Offer callbacks on channels that allow them (voice)."
    )
    overflow: Literal["when_full", "always"] = Field(
        default="when_full",
        description="always: send to each queue's overflow queue for as long as the level lasts.",
    )
    priority_points: int = Field(
        default=0, ge=0, le=100, description="Extra points for seniors and sync channels."
    )


class WavesSettings(_Model):
    """Wave behaviour and the detector's parameters."""

    detector: WaveSettings = Field(default_factory=WaveSettings)
    negativity_counts_as: WaveLevel = Field(
        default=WaveLevel.ELEVATED, description="Level a negativity wave counts as."
    )
    overload_counts_as: WaveLevel = Field(
        default=WaveLevel.WAVE, description="Level an overload (rate above capacity) counts as."
    )
    include_all_channels: bool = Field(
        default=True, description="A wave over all channels counts for every channel."
    )
    elevated: WaveBehaviour = Field(default_factory=WaveBehaviour)
    wave: WaveBehaviour = Field(default_factory=WaveBehaviour)


class MemorySettings(_Model):
    """Per-customer memory: what is kept and for how long."""

    history_seconds: float = Field(default=30 * 86400.0, gt=0)
    max_contacts: int = Field(default=50, ge=1, le=1000)
    repeat_window_seconds: float = Field(
        default=7 * 86400.0, gt=0, description="Default window of repeat_contacts_at_least."
    )
    sentiment_half_life_seconds: float = Field(default=3 * 86400.0, gt=0)
    dedup_seconds: float = Field(default=24 * 3600.0, gt=0)
    dedup_max: int = Field(default=200, ge=1)


class SentimentSettings(_Model):
    """Extensions of the sentiment analyzer."""

    lexicon: dict[Literal["ru", "en"], dict[str, Annotated[float, Field(ge=-4, le=4)]]] = Field(
        default_factory=dict, description="Word or phrase -> valence on a -4..+4 scale."
    )
    cues: dict[ServiceCue, dict[Literal["ru", "en"], tuple[str, ...]]] = Field(
        default_factory=dict, description="Extra phrases per service cue."
    )
    negative_threshold: float = Field(default=-0.05, ge=-1, le=1)


class RuleWhen(_Model):
    """Conditions of an ops rule; all given ones must hold (an empty `when` always holds)."""

    channel: tuple[Channel, ...] | None = None
    family: tuple[Family, ...] | None = None
    language: tuple[Literal["ru", "en", "other"], ...] | None = None
    public: bool | None = None
    sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    sentiment_at_least: float | None = Field(default=None, ge=-1, le=1)
    cues_any: tuple[ServiceCue, ...] | None = None
    intent_any: tuple[Name, ...] | None = None
    no_intent: bool | None = None
    text_length_at_least: int | None = Field(default=None, ge=0)
    text_length_below: int | None = Field(default=None, ge=0)
    tier_any: tuple[str, ...] | None = None
    repeat_contacts_at_least: int | None = Field(default=None, ge=1)
    repeat_window_seconds: float | None = Field(default=None, gt=0)
    rolling_sentiment_below: float | None = Field(default=None, ge=-1, le=1)
    wave_level_at_least: WaveLevel | None = None
    strategy: Strategy | None = None


class RuleRoute(_Model):
    """What an ops rule decides."""

    target: Target
    queue: Name | None = Field(
        default=None, description="Default: the channel's queue, bot queue or senior queue."
    )
    priority: int | None = Field(
        default=None, ge=0, le=100, description="Priority floor (never lowers priority)."
    )
    reason: Annotated[str, StringConstraints(max_length=120)] | None = None
    override_senior: bool = Field(
        default=False,
        description="Also win over the senior triggers (by default a triggered senior "
        "escalation outranks a rule that routes to a bot or a queue).",
    )


class Rule(_Model):
    """An ordered ops rule: the first rule whose `when` holds decides, before the strategy."""

    id: Name
    when: RuleWhen = Field(default_factory=RuleWhen)
    route: RuleRoute


class RoutingConfig(_Model):
    """The whole routing config (see config/open.yaml for a commented example)."""

    strategy: Strategy
    channels: dict[Channel, ChannelSettings]
    queues: dict[Name, QueueSettings]
    default_bot_queue: Name = Field(
        default="bot", description="Bot queue of channels that do not name one."
    )
    intents: IntentSettings = Field(default_factory=IntentSettings)
    senior: SeniorTriggers = Field(default_factory=SeniorTriggers)
    priority: PrioritySettings = Field(default_factory=PrioritySettings)
    open: OpenSettings = Field(default_factory=OpenSettings)
    closed: ClosedSettings = Field(default_factory=ClosedSettings)
    waves: WavesSettings = Field(default_factory=WavesSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    sentiment: SentimentSettings = Field(default_factory=SentimentSettings)
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Self:
        problems = self.reference_problems()
        if problems:
            raise ValueError("; ".join(f"{'.'.join(map(str, p))}: {m}" for p, m in problems))
        return self

    def reference_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references that do not resolve, as (key path, message) pairs."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        queues = self.queues
        intents = set(self.intent_phrases())

        def queue(path: tuple[str | int, ...], name: str | None, *, bot: bool | None) -> None:
            if name is None:
                return
            q = queues.get(name)
            if q is None:
                out.append((path, f"unknown queue {name!r} (not under queues)"))
            elif bot is not None and q.bot != bot:
                kind = "a bot queue" if bot else "a human queue"
                out.append((path, f"queue {name!r} must be {kind}"))

        missing = [c.value for c in Channel if c not in self.channels]
        if missing:
            out.append((("channels",), f"every channel needs settings; missing {missing}"))
        for ch, cs in self.channels.items():
            queue(("channels", ch.value, "queue"), cs.queue, bot=False)
            queue(("channels", ch.value, "bot_queue"), cs.bot_queue, bot=True)
            if cs.offer_callback and Channel.CALLBACK not in cs.reply_channels:
                out.append(
                    (("channels", ch.value, "offer_callback"), "needs callback in reply_channels")
                )
        queue(("default_bot_queue",), self.default_bot_queue, bot=True)
        queue(("senior", "queue"), self.senior.queue, bot=False)
        for name, q in queues.items():
            queue(("queues", name, "overflow"), q.overflow, bot=q.bot)
            for i, skill in enumerate(q.skills):
                if skill not in intents:
                    out.append((("queues", name, "skills", i), f"unknown intent {skill!r}"))
        for field in ("self_service", "trivial", "needs_personal_data"):
            for i, name in enumerate(getattr(self.intents, field)):
                if name not in intents:
                    out.append((("intents", field, i), f"unknown intent {name!r}"))
        self_service = set(self.intents.self_service)
        for i, name in enumerate(self.intents.trivial):
            if name in intents and name not in self_service:
                out.append((("intents", "trivial", i), f"{name!r} is not in intents.self_service"))
        for r, rule in enumerate(self.rules):
            for i, name in enumerate(rule.when.intent_any or ()):
                if name not in intents:
                    out.append((("rules", r, "when", "intent_any", i), f"unknown intent {name!r}"))
            want_bot = rule.route.target is Target.BOT
            queue(("rules", r, "route", "queue"), rule.route.queue, bot=want_bot)
        seen: dict[str, int] = {}
        for r, rule in enumerate(self.rules):
            if rule.id in seen:
                out.append((("rules", r, "id"), f"duplicate rule id {rule.id!r}"))
            seen.setdefault(rule.id, r)
        return out

    def intent_phrases(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """The effective intent catalogue: built-in (if used) with the config's entries."""
        out: dict[str, dict[str, tuple[str, ...]]] = {}
        if self.intents.use_defaults:
            out.update({k: dict(v) for k, v in DEFAULT_INTENTS.items()})
        for intent, phrases in self.intents.catalogue.items():
            out[intent] = {str(lang): p for lang, p in phrases.items()}
        return out

    @property
    def version(self) -> str:
        """Content hash of the parsed config; see `config_version`."""
        return config_version(self)


def config_version(config: RoutingConfig) -> str:
    """`cfg-` + 12 hex digits of SHA-256 over the canonical JSON of the parsed config.

    Canonical means: defaults filled in, mapping keys sorted, no comments or whitespace.
    So reformatting a file, reordering mapping keys or spelling out a default keeps the
    version; any change of meaning (a threshold, a rule, rule *order*) changes it. The
    file name is not part of it: the same content is the same version wherever it lives.
    """
    cached = _VERSIONS.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    body = orjson.dumps(config.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    version = "cfg-" + hashlib.sha256(body).hexdigest()[:12]
    if len(_VERSIONS) > 64:
        _VERSIONS.clear()
    _VERSIONS[id(config)] = (config, version)
    return version


_VERSIONS: dict[int, tuple[RoutingConfig, str]] = {}


# ------------------------------------------------------------------------------ loading


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path or '<root>'}: {self.message}"


class ConfigError(ValueError):
    """A config did not load; `problems` lists every problem found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


_Path = tuple[str | int, ...]


def _walk(
    node: yaml.Node, path: _Path, lines: dict[_Path, int], dups: list[tuple[_Path, int]]
) -> None:
    """Record the (1-based) line of every key path; note duplicate mapping keys."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                dups.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, dups)


def _line_of(path: _Path, lines: Mapping[_Path, int]) -> int:
    for n in range(len(path), -1, -1):
        line = lines.get(tuple(str(p) if isinstance(p, str) else p for p in path[:n]))
        if line is not None:
            return line
    return 1


def _dotted(path: _Path) -> str:
    return ".".join(str(p) for p in path)


def parse_config(text: str, source_name: str = "<config>") -> RoutingConfig:
    """Parse and validate a YAML routing config.

    Args:
        text: The YAML text.
        source_name: File name used in error messages.

    Returns:
        The validated config.

    Raises:
        ConfigError: Listing every problem with file, line and key path.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            [ConfigProblem(source_name, line, "", f"invalid YAML: {problem}")]
        ) from None
    lines: dict[_Path, int] = {}
    dups: list[tuple[_Path, int]] = []
    if node is not None:
        _walk(node, (), lines, dups)
    problems = [
        ConfigProblem(source_name, line, _dotted(path), "duplicate key") for path, line in dups
    ]
    if not isinstance(data, dict):
        problems.append(ConfigProblem(source_name, 1, "", "the config must be a YAML mapping"))
        raise ConfigError(problems)
    try:
        config = _Unchecked.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            loc = tuple(p for p in err["loc"] if p != "[key]")
            # Drop pydantic's union/function tags from the path, keep keys and indices.
            loc = tuple(p for p in loc if not (isinstance(p, str) and "[" in p))
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key"
            problems.append(ConfigProblem(source_name, _line_of(loc, lines), _dotted(loc), message))
        raise ConfigError(problems) from None
    for path, message in config.reference_problems():
        problems.append(ConfigProblem(source_name, _line_of(path, lines), _dotted(path), message))
    if problems:
        raise ConfigError(problems)
    return RoutingConfig.model_construct(**dict(config))


class _Unchecked(RoutingConfig):
    """The schema without the cross-reference check, so parse_config can report each one."""

    @model_validator(mode="after")
    def _references(self) -> Self:
        return self


def load_config(path: str | Path) -> RoutingConfig:
    """Read and parse a YAML routing config file; see `parse_config`.

    Raises:
        ConfigError: When the file is unreadable or invalid (with every problem).
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigProblem(name, 1, "", f"cannot read: {exc}")]) from None
    return parse_config(text, name)


def summary(config: RoutingConfig) -> str:
    """A one-paragraph human summary of what a config does."""
    waves = config.waves
    parts = [
        f"Strategy {config.strategy}",
        f"{len(config.channels)} channels",
        f"{len(config.queues)} queues ({sum(q.bot for q in config.queues.values())} bot)",
        f"{len(config.intent_phrases())} intents "
        f"({len(config.intents.self_service)} self-service, {len(config.intents.trivial)} trivial)",
        f"{len(config.rules)} ops rules",
    ]
    triggers = []
    s = config.senior
    if s.sentiment_below is not None:
        triggers.append(f"sentiment < {s.sentiment_below}")
    if s.repeat is not None:
        triggers.append(f"{s.repeat.count} contacts in {_human_seconds(s.repeat.window_seconds)}")
    if s.rolling_sentiment_below is not None:
        triggers.append(f"rolling sentiment < {s.rolling_sentiment_below}")
    if s.long_message_chars is not None:
        triggers.append(f">= {s.long_message_chars} chars")
    if s.tiers:
        triggers.append("tiers " + "/".join(s.tiers))
    if s.public_negative_below is not None:
        triggers.append("negative public posts")
        if s.recent_public_negative:
            triggers.append("authors of recent negative posts")
    triggers.extend(c.value for c in s.cues)
    at = []
    for level in ("elevated", "wave"):
        b: WaveBehaviour = getattr(waves, level)
        changes = []
        if b.strategy is not None:
            changes.append(f"strategy {b.strategy}")
        if b.deflect_harder:
            changes.append("deflect harder")
        if b.offer_callback:
            changes.append("offer callbacks")
        if b.overflow == "always":
            changes.append("overflow")
        at.append(f"at {level}: {', '.join(changes) if changes else 'no change'}")
    return (
        ", ".join(parts)
        + f". Senior queue {s.queue!r} for: {', '.join(triggers) or 'nothing'}. "
        + "; ".join(at)
        + "."
    )


def _human_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size and math.isclose(seconds % size, 0.0, abs_tol=1e-9):
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
