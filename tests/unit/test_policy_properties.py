"""Policy properties (hypothesis): one target, determinism, monotone priority, reply channel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.channels import Channel, traits_of
from routing.config import load_config
from routing.contact import Contact, ContactTraits, Decision, Target
from routing.enrich import enrich
from routing.memory import HistoryEntry, HistorySummary
from routing.policy import LoadView, QueueLoad, RoutingContext, decide
from routing.sentiment import Sentiment
from routing.sentiment.cues import ServiceCue
from routing.waves import WaveLevel

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [load_config(p) for p in sorted((ROOT / "config").glob("*.yaml"))]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
TEXTS = [
    "",
    "Где мой заказ?",
    "Where is my order?",
    "Хочу отменить заказ",
    "Ужасный сервис, ненавижу вас",
    "I will sue you",
    "Позовите живого оператора",
    "Let me talk to a real person",
    "Спасибо, всё отлично!",
    "My payment failed, card declined",
    "Добрый день. " * 80,
]

channels = st.sampled_from(list(Channel))
levels = st.sampled_from(list(WaveLevel))
tiers = st.sampled_from([None, "vip", "premium", "gold"])
texts = st.one_of(st.sampled_from(TEXTS), st.text(max_size=300))
cues = st.frozensets(st.sampled_from(list(ServiceCue)))
history_entries = st.lists(
    st.tuples(channels, st.floats(0, 40 * 86400), st.floats(-1, 1), st.booleans()), max_size=6
)
capacities = st.dictionaries(
    st.sampled_from(["voice", "voice-en", "chat", "written", "social", "senior", "general"]),
    st.builds(QueueLoad, st.integers(0, 200), st.one_of(st.none(), st.integers(0, 100))),
    max_size=4,
)


def make_contact(channel: Channel, text: str, language: str, tier: str | None) -> Contact:
    t = traits_of(channel)
    return Contact(
        id=f"{channel.value}:e1",
        event_id="e1",
        channel=channel,
        traits=ContactTraits(voice=t.voice, synchronous=t.synchronous, public=t.public),
        customer_key="phone:abc",
        customer_tier=tier,
        language=language,  # type: ignore[arg-type]
        text=text,
        text_length=len(text),
        occurred_at=NOW,
        received_at=NOW,
    )


def make_history(entries: list[tuple[Channel, float, float, bool]]) -> HistorySummary:
    return HistorySummary(
        at=T,
        earlier=tuple(
            sorted(
                (
                    HistoryEntry(f"h{i}", ch.value, T - ago, s, p)
                    for i, (ch, ago, s, p) in enumerate(entries)
                ),
                key=lambda e: e.at,
            )
        ),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, Contact, RoutingContext]:
    config_index = draw(st.integers(0, len(CONFIGS) - 1))
    contact = make_contact(
        draw(channels), draw(texts), draw(st.sampled_from(["ru", "en", "other"])), draw(tiers)
    )
    signals = enrich(contact, CONFIGS[config_index])
    ctx = RoutingContext(
        now=NOW + timedelta(milliseconds=1),
        sentiment=signals.sentiment,
        intents=signals.intents,
        history=make_history(draw(history_entries)),
        load=LoadView(
            level=draw(levels),
            negativity=draw(st.booleans()),
            overload=draw(st.booleans()),
            all_level=draw(levels),
        ),
        capacity=draw(capacities),
    )
    return config_index, contact, ctx


@settings(max_examples=300, deadline=None)
@given(cases())
def test_exactly_one_valid_target_and_deterministic(
    case: tuple[int, Contact, RoutingContext],
) -> None:
    i, contact, ctx = case
    config = CONFIGS[i]
    decision = decide(contact, ctx, config)
    Decision.model_validate(decision.model_dump())
    assert isinstance(decision.target, Target)
    assert decision.queue in config.queues
    assert config.queues[decision.queue].bot is (decision.target is Target.BOT)
    assert 0 <= decision.priority <= 100
    assert decision.config_version == config.version
    assert decision.rule_id and decision.reasons
    assert decide(contact, ctx, config) == decision


@settings(max_examples=300, deadline=None)
@given(cases())
def test_reply_channel_is_own_unless_config_allows(
    case: tuple[int, Contact, RoutingContext],
) -> None:
    i, contact, ctx = case
    config = CONFIGS[i]
    decision = decide(contact, ctx, config)
    allowed = {contact.channel, *config.channels[contact.channel].reply_channels}
    assert decision.reply_channel in allowed


def sentiment_with(base: Sentiment, score: float) -> Sentiment:
    return replace(base, score=score)


@settings(max_examples=300, deadline=None)
@given(cases(), st.floats(-1, 1), st.floats(0, 1))
def test_more_negativity_never_lowers_priority(
    case: tuple[int, Contact, RoutingContext], score: float, drop: float
) -> None:
    i, contact, ctx = case
    config = CONFIGS[i]
    calmer = replace(ctx, sentiment=sentiment_with(ctx.sentiment, score))
    angrier = replace(ctx, sentiment=sentiment_with(ctx.sentiment, max(-1.0, score - drop)))
    assert decide(contact, angrier, config).priority >= decide(contact, calmer, config).priority


@settings(max_examples=300, deadline=None)
@given(cases(), st.integers(1, 5), st.floats(0, 6 * 86400))
def test_more_repeats_never_lower_priority(
    case: tuple[int, Contact, RoutingContext], extra: int, ago: float
) -> None:
    i, contact, ctx = case
    config = CONFIGS[i]
    more = tuple(HistoryEntry(f"x{k}", "chat", T - ago, 0.0, False) for k in range(extra))
    repeated = replace(
        ctx,
        history=replace(
            ctx.history, earlier=tuple(sorted((*ctx.history.earlier, *more), key=lambda e: e.at))
        ),
    )
    assert decide(contact, repeated, config).priority >= decide(contact, ctx, config).priority
