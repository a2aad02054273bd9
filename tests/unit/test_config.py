"""Routing config: shipped files load, errors name file, line and key path, version is stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.config import ConfigError, RoutingConfig, load_config, parse_config, summary
from routing.waves import WaveSettings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "config").glob("*.yaml"))
OPEN_TEXT = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")


def test_there_are_shipped_configs() -> None:
    assert {p.name for p in SHIPPED} >= {"open.yaml", "closed.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    config = load_config(path)
    assert config.version.startswith("cfg-") and len(config.version) == 16
    assert config.strategy == path.stem
    assert isinstance(config.waves.detector, WaveSettings)
    assert "Strategy" in summary(config)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "my.yaml")
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_key_reports_file_line_and_path() -> None:
    text = OPEN_TEXT.replace("    sla_seconds: 120\n", "    sla_seconds: 120\n    sla_secnds: 5\n")
    (err,) = problems(text)
    assert err == f"my.yaml:{line_of(text, 'sla_secnds')}: channels.chat.sla_secnds: unknown key"


def test_every_problem_is_reported() -> None:
    text = OPEN_TEXT.replace("\nstrategy: open\n", "\nstrategy: half-open\n").replace(
        "  sentiment_below: -0.6", "  sentiment_below: -7"
    )
    errs = problems(text)
    assert len(errs) == 2
    assert errs[0].startswith(f"my.yaml:{line_of(text, 'half-open')}: strategy: ")
    assert errs[1].startswith(
        f"my.yaml:{line_of(text, 'sentiment_below: -7')}: senior.sentiment_below: "
    )


def test_unknown_queue_reference_points_at_the_key() -> None:
    text = OPEN_TEXT.replace("    overflow: general\n  chat:", "    overflow: nowhere\n  chat:")
    (err,) = problems(text)
    assert err == (
        f"my.yaml:{line_of(text, 'overflow: nowhere')}: queues.voice.overflow: "
        "unknown queue 'nowhere' (not under queues)"
    )


def test_rule_errors_carry_the_list_index() -> None:
    text = OPEN_TEXT.replace("      cues_any: [legal_threat]", "      cues_any: [lawsuit]")
    text = text.replace("      intent_any: [payment_problem]", "      intent_any: [payment_problm]")
    errs = problems(text)
    assert any(
        e.startswith(f"my.yaml:{line_of(text, '[lawsuit]')}: rules.0.when.cues_any.0: ")
        for e in errs
    ), errs


def test_unknown_intent_reference() -> None:
    text = OPEN_TEXT.replace("  trivial: [order_status, store_hours]", "  trivial: [order_stat]")
    (err,) = problems(text)
    assert (
        err
        == f"my.yaml:{line_of(text, 'order_stat]')}: intents.trivial.0: unknown intent 'order_stat'"
    )


def test_wave_detector_settings_are_validated() -> None:
    text = OPEN_TEXT.replace("    short_window_s: 120", "    short_window_s: 1")
    (err,) = problems(text)
    assert f":{line_of(text, 'short_window_s: 1')}: waves.detector.short_window_s:" in err


def test_invalid_yaml_and_non_mapping() -> None:
    (err,) = problems("strategy: [open\n")
    assert err.startswith("my.yaml:") and "invalid YAML" in err
    (err,) = problems("- just a list\n")
    assert err == "my.yaml:1: <root>: the config must be a YAML mapping"


def test_duplicate_keys_are_errors() -> None:
    text = OPEN_TEXT.replace("strategy: open\n", "strategy: open\nstrategy: closed\n")
    errs = problems(text)
    assert f"my.yaml:{line_of(text, 'strategy: closed')}: strategy: duplicate key" in errs


def test_missing_channel_settings() -> None:
    text = OPEN_TEXT.replace("  in_person:\n    sla_seconds: 600\n    queue: branch\n", "")
    (err,) = problems(text)
    assert "channels: every channel needs settings; missing ['in_person']" in err


def test_callback_offer_needs_callback_reply_channel() -> None:
    text = OPEN_TEXT.replace("    reply_channels: [callback]", "    reply_channels: []")
    (err,) = problems(text)
    assert "channels.voice.offer_callback: needs callback in reply_channels" in err


def test_load_config_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_version_ignores_comments_whitespace_and_key_order() -> None:
    base = parse_config(OPEN_TEXT).version
    noisy = "# a comment\n\n" + OPEN_TEXT.replace("strategy: open", "strategy:   open  # hi")
    assert parse_config(noisy).version == base
    reordered = OPEN_TEXT.replace("strategy: open\n", "") + "\nstrategy: open\n"
    assert parse_config(reordered).version == base


def test_version_changes_with_meaning() -> None:
    base = parse_config(OPEN_TEXT).version
    assert (
        parse_config(OPEN_TEXT.replace("sentiment_below: -0.6", "sentiment_below: -0.5")).version
        != base
    )
    # Rule order is meaning: the first match wins.
    a, b = OPEN_TEXT.index("  - id: legal-to-senior"), OPEN_TEXT.index("  - id: payment-issues")
    swapped = OPEN_TEXT[:a] + OPEN_TEXT[b:] + OPEN_TEXT[a:b]
    assert parse_config(swapped).version != base


def test_default_spelled_out_keeps_version() -> None:
    base = parse_config(OPEN_TEXT).version
    text = OPEN_TEXT.replace("open:\n  bots_for_trivial: true\n", "open: {}\n")  # the default
    assert text != OPEN_TEXT
    assert parse_config(text).version == base


def test_model_validate_also_checks_references() -> None:
    data = parse_config(OPEN_TEXT).model_dump(mode="json")
    data["senior"]["queue"] = "nobody"
    with pytest.raises(ValueError, match="unknown queue 'nobody'"):
        RoutingConfig.model_validate(data)


def test_catalogue_extension_and_override() -> None:
    config = parse_config(OPEN_TEXT)
    phrases = config.intent_phrases()
    assert "store_hours" in phrases and "order_status" in phrases
    lines = []
    for line in OPEN_TEXT.splitlines():
        if line.startswith(("  self_service:", "  trivial:")):
            line = line.split(":")[0] + ": [store_hours]"
        elif line.startswith("  needs_personal_data:"):
            line = "  needs_personal_data: []"
        lines.append(line)
    text = "\n".join(lines).replace("  use_defaults: true", "  use_defaults: false")
    text = text.replace("    skills: [payment_problem, return_refund]\n", "")
    text = text.replace(
        "      intent_any: [payment_problem]\n", "      intent_any: [store_hours]\n"
    )
    assert set(parse_config(text).intent_phrases()) == {"store_hours"}


def test_priority_base_needs_every_family() -> None:
    text = OPEN_TEXT.replace(
        "  base: {voice: 60, sync: 55, async: 30, public: 45}", "  base: {voice: 60}"
    )
    (err,) = problems(text)
    assert err.startswith(f"my.yaml:{line_of(text, 'base: {voice: 60}')}: priority.base: ")
    assert "missing ['sync', 'async', 'public']" in err


def test_trivial_intents_must_be_self_service() -> None:
    text = OPEN_TEXT.replace("  trivial: [order_status, store_hours]", "  trivial: [cancel_order]")
    (err,) = problems(text)
    assert err.endswith("intents.trivial.0: 'cancel_order' is not in intents.self_service")
