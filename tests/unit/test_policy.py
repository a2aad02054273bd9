"""Policy: every strategy x channel family x wave level, every senior trigger, RU and EN."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from routing.channels import Channel, traits_of
from routing.config import RoutingConfig, load_config, parse_config
from routing.contact import Contact, ContactTraits, Decision, Flag, Target
from routing.enrich import enrich
from routing.memory import EMPTY_HISTORY, HistoryEntry, HistorySummary
from routing.policy import (
    LoadView,
    QueueLoad,
    RoutingContext,
    compile_policy,
    decide,
    queue_loads,
)
from routing.waves import ChannelLoad, LoadState, WaveLevel

ROOT = Path(__file__).resolve().parents[2]
OPEN = load_config(ROOT / "config" / "open.yaml")
CLOSED = load_config(ROOT / "config" / "closed.yaml")
CONFIGS = {"open": OPEN, "closed": CLOSED}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
T = NOW.timestamp()

# One channel per family: voice, sync written, async written, public.
FAMILY_CHANNELS = {
    "voice": Channel.VOICE,
    "sync": Channel.CHAT,
    "async": Channel.EMAIL,
    "public": Channel.SOCIAL_PUBLIC,
}
CANCEL = {"ru": "Хочу отменить заказ", "en": "Cancel my order please"}  # not self-service
WHERE = {"ru": "Где мой заказ?", "en": "Where is my order?"}  # self-service and trivial
ANGRY = {
    "ru": "Ужасный сервис, ненавижу вас, худшая компания",
    "en": "Terrible service, I hate you, the worst company ever",
}
LEGAL = {"ru": "Подам на вас в суд", "en": "I will sue you"}
CHURN = {
    "ru": "Ухожу к конкурентам",
    "en": "I am cancelling my account and switching to your competitor",
}
HUMAN = {"ru": "Позовите живого оператора", "en": "Let me talk to a real person"}
NEUTRAL = {"ru": "Добрый день, вопрос по договору", "en": "Hello, a question about my contract"}
LONG = {
    "ru": "Добрый день. Пишу подробно, вопрос по договору и по доставке. " * 15,
    "en": "Hello. I am writing in detail about my contract and the delivery. " * 15,
}


def contact(
    channel: Channel, text: str, language: str = "en", *, tier: str | None = None, n: int = 1
) -> Contact:
    t = traits_of(channel)
    return Contact(
        id=f"{channel.value}:e{n}",
        event_id=f"e{n}",
        channel=channel,
        traits=ContactTraits(voice=t.voice, synchronous=t.synchronous, public=t.public),
        customer_key="phone:abc",
        customer_tier=tier,
        language=language,  # type: ignore[arg-type]
        text=text,
        text_length=len(text),
        occurred_at=NOW - timedelta(seconds=2),
        received_at=NOW,
    )


def route(
    config: RoutingConfig,
    channel: Channel,
    text: str,
    language: str = "en",
    *,
    tier: str | None = None,
    level: WaveLevel = WaveLevel.NORMAL,
    history: HistorySummary = EMPTY_HISTORY,
    capacity: dict[str, QueueLoad] | None = None,
    load: LoadView | None = None,
) -> tuple[Decision, tuple[str, ...]]:
    c = contact(channel, text, language, tier=tier)
    signals = enrich(c, config)
    ctx = RoutingContext(
        now=NOW + timedelta(milliseconds=3),
        sentiment=signals.sentiment,
        intents=signals.intents,
        history=history,
        load=load or LoadView(level=level),
        capacity=capacity or {},
    )
    decision, triggers = compile_policy(config).decide_with_triggers(c, ctx)
    assert decision == decide(c, ctx, config)
    # Built without validation on the hot path: it must equal a validated Decision.
    assert Decision.model_validate(decision.model_dump()) == decision
    assert Decision.model_validate_json(decision.model_dump_json()) == decision
    assert decision.model_copy(update={"priority": 1}).priority == 1
    return decision, triggers


# (strategy, family, level) -> (target, reply is callback) for a request self-service
# cannot handle ("cancel my order") from a neutral, unknown customer.
CANCEL_EXPECTED: dict[tuple[str, str, WaveLevel], tuple[Target, bool]] = {}
for fam in FAMILY_CHANNELS:
    for lvl in WaveLevel:
        voice = fam == "voice"
        # open: people in the customer's own channel; a wave offers callbacks on voice.
        CANCEL_EXPECTED["open", fam, lvl] = (Target.QUEUE, voice and lvl is not WaveLevel.NORMAL)
        # closed: people for what a bot cannot do (voice: a callback), but in a wave only
        # escalations reach people, so the bot takes it where there is one.
        if lvl is WaveLevel.WAVE and fam != "public":
            CANCEL_EXPECTED["closed", fam, lvl] = (Target.BOT, False)
        else:
            CANCEL_EXPECTED["closed", fam, lvl] = (Target.QUEUE, voice)


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("level", list(WaveLevel), ids=str)
@pytest.mark.parametrize("family", list(FAMILY_CHANNELS))
@pytest.mark.parametrize("strategy", ["open", "closed"])
def test_matrix_request_bot_cannot_handle(
    strategy: str, family: str, level: WaveLevel, language: str
) -> None:
    config = CONFIGS[strategy]
    channel = FAMILY_CHANNELS[family]
    decision, triggers = route(config, channel, CANCEL[language], language, level=level)
    target, callback = CANCEL_EXPECTED[strategy, family, level]
    assert not triggers
    assert decision.target is target, decision.reasons
    assert decision.reply_channel is (Channel.CALLBACK if callback else channel)
    assert (Flag.CALLBACK_OFFERED in decision.flags) is callback
    assert decision.strategy == strategy and decision.wave_level == level.value
    assert (Flag.WAVE in decision.flags) is (level is not WaveLevel.NORMAL)
    assert (Flag.PUBLIC in decision.flags) is (family == "public")
    assert decision.config_version == config.version
    assert decision.rule_id and decision.reasons
    if target is Target.QUEUE and level is WaveLevel.WAVE:
        # Open and closed waves spread the ordinary queues to their overflow queues.
        assert Flag.OVERFLOW in decision.flags
    sla = config.channels[decision.reply_channel].sla_seconds
    assert decision.sla_due_at == NOW + timedelta(seconds=sla)


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("level", list(WaveLevel), ids=str)
@pytest.mark.parametrize("family", list(FAMILY_CHANNELS))
@pytest.mark.parametrize("strategy", ["open", "closed"])
def test_matrix_self_service_request(
    strategy: str, family: str, level: WaveLevel, language: str
) -> None:
    config = CONFIGS[strategy]
    channel = FAMILY_CHANNELS[family]
    decision, _ = route(config, channel, WHERE[language], language, level=level)
    has_bot = config.channels[channel].bot_queue is not None
    # order_status is self-service (closed) and trivial (open): a bot where there is one.
    assert decision.target is (Target.BOT if has_bot else Target.QUEUE), decision.reasons
    if decision.target is Target.BOT:
        assert decision.queue == config.channels[channel].bot_queue
        assert decision.reply_channel is channel
    # A public post about an order needs the order number: continue in private.
    assert (Flag.MOVE_TO_PRIVATE in decision.flags) is (family == "public")


def test_open_people_first_picks_queue_by_language_and_skill() -> None:
    assert route(OPEN, Channel.VOICE, CANCEL["en"], "en")[0].queue == "voice-en"
    assert route(OPEN, Channel.VOICE, CANCEL["ru"], "ru")[0].queue == "voice"
    refund = {"ru": "Хочу вернуть товар", "en": "I want to return my order"}
    assert route(OPEN, Channel.EMAIL, refund["ru"], "ru")[0].queue == "payments"
    assert route(OPEN, Channel.EMAIL, NEUTRAL["en"], "en")[0].queue == "written"
    assert route(OPEN, Channel.IN_PERSON, "", "other")[0].queue == "branch"


def test_open_without_trivial_bots_keeps_people() -> None:
    text = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
    config = parse_config(text.replace("  bots_for_trivial: true", "  bots_for_trivial: false"))
    assert route(config, Channel.CHAT, WHERE["en"])[0].target is Target.QUEUE


def test_closed_unmatched_goes_to_bot_triage_and_in_person_to_people() -> None:
    d, _ = route(CLOSED, Channel.VOICE, "", "other")
    assert (d.target, d.rule_id) == (Target.BOT, "closed.bot-triage")
    d, _ = route(CLOSED, Channel.IN_PERSON, "", "other")
    assert (d.target, d.queue) == (Target.QUEUE, "branch")


# ------------------------------------------------------------------ senior triggers


def history(
    *entries: tuple[str, float, float, bool], rolling: float | None = None
) -> HistorySummary:
    """Earlier contacts as (channel, seconds ago, score, public)."""
    return HistorySummary(
        at=T,
        earlier=tuple(
            HistoryEntry(f"{ch}:h{i}", ch, T - ago, score, public)
            for i, (ch, ago, score, public) in enumerate(entries)
        ),
        rolling_sentiment=rolling,
    )


TRIGGER_CASES: dict[str, dict[str, Any]] = {
    "negative": {"text": ANGRY},
    "legal_threat": {"text": LEGAL},
    "churn_threat": {"text": CHURN},
    "repeat": {
        "text": NEUTRAL,
        "history": history(("chat", 3600, 0.0, False), ("email", 86400, -0.2, False)),
    },
    "public_negative": {"text": ANGRY, "channel": Channel.SOCIAL_PUBLIC},
    "recent_public_negative": {
        "text": NEUTRAL,
        "history": history(("social_public", 1800, -0.7, True)),
    },
    "tier": {"text": NEUTRAL, "tier": "VIP"},
    "long_message": {"text": LONG},
    "rolling_sentiment": {
        "text": NEUTRAL,
        "history": history(("email", 2 * 86400, -0.9, False), rolling=-0.8),
    },
}
TRIGGER_FLAGS = {
    "negative": Flag.NEGATIVE,
    "legal_threat": Flag.LEGAL_THREAT,
    "churn_threat": Flag.CHURN_THREAT,
    "repeat": Flag.REPEAT,
    "public_negative": Flag.PUBLIC,
    "tier": Flag.VIP,
    "long_message": Flag.LONG_MESSAGE,
}


@pytest.mark.parametrize("level", [WaveLevel.NORMAL, WaveLevel.WAVE], ids=str)
@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("strategy", ["open", "closed"])
@pytest.mark.parametrize("trigger", list(TRIGGER_CASES))
def test_every_senior_trigger(trigger: str, strategy: str, language: str, level: WaveLevel) -> None:
    case = TRIGGER_CASES[trigger]
    channel = case.get("channel", Channel.CHAT)
    decision, triggers = route(
        CONFIGS[strategy],
        channel,
        case["text"][language],
        language,
        tier=case.get("tier"),
        history=case.get("history", EMPTY_HISTORY),
        level=level,
    )
    assert trigger in triggers
    assert decision.target is Target.SENIOR, decision.reasons
    assert decision.queue == "senior"  # never spread to the overflow queue by a wave
    assert decision.priority >= CONFIGS[strategy].senior.priority
    assert decision.reply_channel is channel
    if trigger in TRIGGER_FLAGS:
        assert TRIGGER_FLAGS[trigger] in decision.flags
    if trigger == "legal_threat":
        assert decision.rule_id == "legal-to-senior"  # the shipped ops rule decides first
    else:
        assert decision.rule_id == f"senior.{triggers[0]}"


def test_rolling_sentiment_needs_a_history() -> None:
    # Over the current contact alone it would only repeat the sentiment trigger.
    _, triggers = route(OPEN, Channel.CHAT, NEUTRAL["en"], history=history(rolling=-0.8))
    assert "rolling_sentiment" not in triggers


def test_repeat_counts_across_channels_and_window() -> None:
    old = history(("voice", 30 * 86400, 0.0, False), ("chat", 20 * 86400, 0.0, False))
    decision, triggers = route(OPEN, Channel.EMAIL, NEUTRAL["en"], history=old)
    assert "repeat" not in triggers and decision.target is Target.QUEUE
    recent = history(("voice", 3600, 0.0, False), ("social_public", 7200, 0.1, True))
    decision, triggers = route(OPEN, Channel.EMAIL, NEUTRAL["en"], history=recent)
    assert "repeat" in triggers
    assert "channels: voice, social_public" in decision.reasons[0]


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("level", list(WaveLevel), ids=str)
@pytest.mark.parametrize("strategy", ["open", "closed"])
def test_human_request_never_bot_alone(strategy: str, level: WaveLevel, language: str) -> None:
    for channel in (Channel.CHAT, Channel.VOICE, Channel.MESSENGER):
        decision, _ = route(CONFIGS[strategy], channel, HUMAN[language], language, level=level)
        assert decision.target is not Target.BOT
        assert Flag.HUMAN_REQUESTED in decision.flags
        assert decision.rule_id == "human-requested"


def test_rule_to_queue_does_not_hide_a_senior_unless_it_says_so() -> None:
    text = "My payment failed, card declined, terrible, I hate this, worst bank ever"
    decision, triggers = route(OPEN, Channel.EMAIL, text)
    assert "negative" in triggers and decision.target is Target.SENIOR
    assert "outranks ops rule payment-issues-people" in decision.reasons
    src = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
    override = parse_config(
        src.replace("      priority: 50\n", "      priority: 50\n      override_senior: true\n")
    )
    decision, _ = route(override, Channel.EMAIL, text)
    assert (decision.target, decision.rule_id) == (Target.QUEUE, "payment-issues-people")


def test_rule_conditions() -> None:
    src = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
    extra = """
  - id: vip-voice-en-wave
    when:
      channel: [voice]
      language: [en]
      tier_any: [gold]
      wave_level_at_least: elevated
      text_length_below: 100
      strategy: open
    route: {target: queue, queue: general, priority: 99}
  - id: quiet-written
    when:
      family: [async]
      no_intent: true
      sentiment_at_least: -0.2
      repeat_contacts_at_least: 2
      repeat_window_seconds: 86400
    route: {target: bot}
"""
    config = parse_config(src + extra)
    d, _ = route(config, Channel.VOICE, CANCEL["en"], tier="Gold", level=WaveLevel.ELEVATED)
    assert (d.rule_id, d.queue, d.priority) == ("vip-voice-en-wave", "general", 99)
    d, _ = route(config, Channel.VOICE, CANCEL["en"], tier="Gold")
    assert d.rule_id == "open.people-first"
    one = history(("chat", 3600, 0.0, False))
    d, _ = route(config, Channel.EMAIL, NEUTRAL["en"], history=one)
    assert (d.rule_id, d.target, d.queue) == ("quiet-written", Target.BOT, "bot")
    d, _ = route(config, Channel.EMAIL, NEUTRAL["en"])
    assert d.rule_id == "open.people-first"


# ------------------------------------------------------------------ capacity and load


def test_full_queue_overflows_with_flag() -> None:
    d, _ = route(OPEN, Channel.CHAT, CANCEL["en"], capacity={"chat": QueueLoad(60)})
    assert (d.queue, Flag.OVERFLOW in d.flags) == ("general", True)
    assert any("chat full (60/60)" in r for r in d.reasons)
    d, _ = route(OPEN, Channel.CHAT, CANCEL["en"], capacity={"chat": QueueLoad(59)})
    assert (d.queue, Flag.OVERFLOW in d.flags) == ("chat", False)
    d, _ = route(OPEN, Channel.CHAT, CANCEL["en"], capacity={"chat": QueueLoad(5, limit=5)})
    assert d.queue == "general"


def test_full_senior_queue_overflows_but_stays_senior() -> None:
    d, _ = route(OPEN, Channel.CHAT, ANGRY["en"], capacity={"senior": QueueLoad(12)})
    assert (d.target, d.queue) == (Target.SENIOR, "general")
    assert Flag.OVERFLOW in d.flags


def test_overflow_chain_stops_at_a_cycle_or_the_end() -> None:
    full = {n: QueueLoad(1000, 1) for n in OPEN.queues}
    d, _ = route(OPEN, Channel.VOICE, CANCEL["en"], capacity=full)
    assert d.queue == "general"  # voice-en -> voice -> general (no overflow of its own)


def test_queue_loads_parses_snapshots() -> None:
    loads = queue_loads({"a": {"in_flight": 3, "limit": 4}, "b": [1, 2], "c": 7, "d": "x"})
    assert loads == {"a": QueueLoad(3, 4), "b": QueueLoad(1, 2), "c": QueueLoad(7)}


def _load(channel: str, **kw: Any) -> ChannelLoad:
    base: dict[str, Any] = dict(
        channel=channel, at=T, level=WaveLevel.NORMAL, level_since=None,
        episode_started_at=None, rate=1.0, baseline=1.0, ratio=1.0, window_count=1.0, warm=True,
    )  # fmt: skip
    base.update(kw)
    return ChannelLoad(**base)


def test_load_view_negativity_overload_and_all_channels() -> None:
    state = LoadState(
        at=T,
        channels={
            "chat": _load("chat", negativity=True),
            "voice": _load("voice", overload=True),
            "all": _load("all", level=WaveLevel.ELEVATED),
        },
    )
    policy = compile_policy(OPEN)
    assert policy.level(LoadView.of(state, "chat")) == 1
    assert policy.level(LoadView.of(state, "voice")) == 2
    assert policy.level(LoadView.of(state, "email")) == 1  # the all-channel level counts
    assert policy.level(LoadView.of(None, "email")) == 0
    d, _ = route(OPEN, Channel.VOICE, CANCEL["ru"], "ru", load=LoadView.of(state, "voice"))
    assert d.wave_level == "wave" and d.reply_channel is Channel.CALLBACK


def test_wave_can_switch_strategy() -> None:
    src = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
    config = parse_config(
        src.replace(
            "  wave:\n    offer_callback: true\n",
            "  wave:\n    strategy: closed\n    offer_callback: true\n",
        )
    )
    d, _ = route(config, Channel.CHAT, CANCEL["en"], level=WaveLevel.WAVE)
    assert d.strategy == "closed" and d.rule_id == "closed.needs-human"
    d, _ = route(config, Channel.CHAT, CANCEL["en"], level=WaveLevel.NORMAL)
    assert d.strategy == "open"


# ------------------------------------------------------------------ decision content


def test_priority_by_tier_and_emotion() -> None:
    calm, _ = route(OPEN, Channel.EMAIL, NEUTRAL["en"])
    premium, _ = route(OPEN, Channel.EMAIL, NEUTRAL["en"], tier="premium")
    upset, _ = route(OPEN, Channel.EMAIL, "The courier was late, disappointed")
    assert calm.priority < premium.priority
    assert calm.priority < upset.priority
    assert route(OPEN, Channel.VOICE, NEUTRAL["en"])[0].priority > calm.priority


def test_reasons_carry_no_customer_text() -> None:
    text = "Ivan Petrov here, ivan.petrov@mail.example, +79161234567, I will sue you, terrible"
    d, _ = route(OPEN, Channel.SOCIAL_PUBLIC, text)
    joined = " ".join(d.reasons).casefold()
    for secret in ("ivan", "petrov", "mail.example", "9161234567", "terrible"):
        assert secret not in joined
    assert Flag.MOVE_TO_PRIVATE in d.flags  # personal data posted in public


def test_decision_is_deterministic_and_flags_ordered() -> None:
    a, _ = route(OPEN, Channel.SOCIAL_PUBLIC, LEGAL["ru"], "ru", tier="vip")
    b, _ = route(OPEN, Channel.SOCIAL_PUBLIC, LEGAL["ru"], "ru", tier="vip")
    assert a == b
    order = list(Flag)
    assert list(a.flags) == sorted(a.flags, key=order.index)


# ------------------------------------------------------------------ enrich


def test_enricher_is_built_once_per_config(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.enrich as enrich_module

    text = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
    config = parse_config(text.replace('    en: {"scam": -3.0}', '    en: {"scam": -3.5}'))
    built: list[object] = []
    real = enrich_module.Analyzer

    def counting(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(enrich_module, "Analyzer", counting)
    for i in range(5):
        enrich(contact(Channel.CHAT, f"what a scam {i}"), config)
    assert len(built) == 1
    assert enrich_module.enricher_for(config) is enrich_module.enricher_for(config)


def test_config_lexicon_and_cue_extensions_apply() -> None:
    c = contact(Channel.CHAT, "Это развод", "ru")
    assert enrich(c, OPEN).sentiment.score < 0
    # (single-word cues match on stems; the nominative is what the config lists)
    _, triggers = route(OPEN, Channel.CHAT, "Финомбудсмен разберётся", "ru")
    assert "legal_threat" in triggers
    assert enrich(contact(Channel.CHAT, "What are your store hours?"), OPEN).intents[0].intent == (
        "store_hours"
    )
