"""Offline route/explain/validate: the workers' pipeline over a file, in event time."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from routing.config import load_config, parse_config
from routing.contact import Decision
from streams.commands import explain as explain_cmd
from streams.commands import route as route_cmd
from streams.commands import validate as validate_cmd
from streams.commands._common import CommandError
from streams.offline import OfflineRouter

ROOT = Path(__file__).resolve().parents[2]
OPEN_TEXT = (ROOT / "config" / "open.yaml").read_text(encoding="utf-8")
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def env(
    i: int, at: datetime, channel: str = "chat", text: str = "Где мой заказ?", **p: Any
) -> bytes:
    payloads: dict[str, dict[str, Any]] = {
        "chat": {"session_id": f"s{i}", "text": text, "email": f"user{i % 50}@x.example"},
        "social_public": {
            "network": "vk", "author_handle": "@angry", "url": "https://vk.example/1", "text": text,
        },
        "voice": {"call_id": f"c{i}", "caller_number": "+79161234567", "transcript": text},
    }  # fmt: skip
    payload = {**payloads.get(channel, payloads["chat"]), **p}
    return orjson.dumps(
        {
            "event_id": f"e{i}",
            "channel": channel,
            "occurred_at": at.isoformat(),
            "schema_version": 1,
            "payload": payload,
        }
    )


def test_every_line_is_routed_dead_lettered_or_a_duplicate() -> None:
    lines = [env(i, START + timedelta(seconds=i)) for i in range(20)]
    lines += [lines[3], b"not json", b"", env(99, START + timedelta(seconds=30), channel="fax")]
    results = list(OfflineRouter(load_config(ROOT / "config" / "open.yaml")).run(lines))
    assert len(results) == 23  # the blank line is skipped
    assert sum(r.decision is not None for r in results) == 20
    assert sum(r.dead is not None for r in results) == 2
    assert [r.line for r in results if r.duplicate] == [21]
    d = results[0].decision
    assert d is not None and d.received_at == d.decided_at == START


def test_public_post_then_call_is_the_same_customer_in_memory() -> None:
    angry = "Ужасный сервис, ненавижу вас, худшая компания"
    lines = [
        env(1, START, "social_public", angry),
        env(2, START + timedelta(minutes=5), "voice", "Добрый день, вопрос по договору"),
    ]
    # The adapter knows both are the same person (same explicit customer id).
    lines = [
        orjson.dumps(
            {**orjson.loads(x), "payload": {**orjson.loads(x)["payload"], "customer_id": "42"}}
        )
        for x in lines
    ]
    post, call = OfflineRouter(load_config(ROOT / "config" / "open.yaml")).run(lines)
    assert post.decision is not None and call.decision is not None
    assert post.decision.customer_key == call.decision.customer_key
    assert "public_negative" in post.triggers
    assert "recent_public_negative" in call.triggers
    assert call.decision.target.value == "senior" and call.earlier_contacts == 1


def test_same_file_same_decisions() -> None:
    lines = [env(i, START + timedelta(seconds=i // 3), text=t) for i, t in enumerate(
        ["Где мой заказ?", "I will sue you", "Позовите оператора", "Спасибо!"] * 10
    )]  # fmt: skip
    config = load_config(ROOT / "config" / "closed.yaml")
    a = [r.decision for r in OfflineRouter(config).run(lines)]
    b = [r.decision for r in OfflineRouter(config).run(lines)]
    assert a == b


def test_a_surge_in_event_time_raises_the_wave_level() -> None:
    fast = OPEN_TEXT.replace(
        "    short_window_s: 120\n    warmup_s: 3600\n",
        "    short_window_s: 60\n    warmup_s: 600\n    min_dwell_s: 60\n    confirm_s: 5\n",
    )
    router = OfflineRouter(parse_config(fast))
    lines = []
    t = START
    for i in range(900):  # 30 minutes at one chat every two seconds
        lines.append(env(i, t))
        t += timedelta(seconds=2)
    for i in range(900, 2100):  # then ten per second for two minutes
        lines.append(env(i, t))
        t += timedelta(milliseconds=100)
    levels = [r.decision.wave_level for r in router.run(lines) if r.decision is not None]
    assert set(levels[:900]) == {"normal"}
    assert "wave" in levels[900:] or "elevated" in levels[900:]


def run_cmd(module: Any, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return int(module.run(parser.parse_args(argv)))


def test_route_and_explain_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(
        b"\n".join(
            [
                env(1, START, text="Ivan here, I will sue you, call +79161234567"),
                env(2, START + timedelta(seconds=1)),
                b"{}",
            ]
        )
        + b"\n"
    )
    config = str(ROOT / "config" / "open.yaml")
    assert run_cmd(route_cmd, ["--config", config, str(raw)]) == 0
    out, err = capsys.readouterr()
    rows = [orjson.loads(x) for x in out.splitlines()]
    assert len(rows) == 3
    first = Decision.model_validate(rows[0])
    assert first.target.value == "senior" and first.rule_id == "legal-to-senior"
    assert "reason" in rows[2]  # the dead letter
    assert "2 decisions" in err and "1 dead letters" in err
    assert run_cmd(explain_cmd, ["--config", config, str(raw)]) == 0
    out, _ = capsys.readouterr()
    assert "-> SENIOR queue senior" in out and "rule legal-to-senior" in out
    assert "senior triggers:" in out and "dead letter" in out
    for secret in ("Ivan", "9161234567", "sue you"):
        assert secret not in out


def test_route_with_a_bad_config_fails_readably(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(OPEN_TEXT.replace("strategy: open\n", "strategy: opne\n"), encoding="utf-8")
    with pytest.raises(CommandError) as info:
        run_cmd(route_cmd, ["--config", str(bad), "-"])
    assert info.value.code == 2 and f"{bad}:" in str(info.value)


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(ROOT / "config" / "closed.yaml")
    assert run_cmd(validate_cmd, [good]) == 0
    out, _ = capsys.readouterr()
    assert f"{good}: OK, version cfg-" in out and "Strategy closed" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        OPEN_TEXT.replace("    sla_seconds: 120\n", "    sla_seconds: -1\n    colour: red\n")
    )
    assert run_cmd(validate_cmd, [good, str(bad)]) == 1
    out, err = capsys.readouterr()
    problems = [x for x in out.splitlines() if x.startswith(str(bad))]
    assert len(problems) == 2
    assert any(": channels.chat.sla_seconds: " in p for p in problems)
    assert any(p.endswith(": channels.chat.colour: unknown key") for p in problems)
    assert "1 of 2 config file(s) invalid" in err


def test_route_with_a_capacity_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw.jsonl"
    raw.write_bytes(env(1, START, text="Хочу отменить заказ") + b"\n")
    cap = tmp_path / "cap.json"
    cap.write_bytes(orjson.dumps({"chat": {"in_flight": 80, "limit": 60}}))
    config = str(ROOT / "config" / "open.yaml")
    assert run_cmd(route_cmd, ["--config", config, "--capacity", str(cap), str(raw)]) == 0
    row = orjson.loads(capsys.readouterr().out)
    assert row["queue"] == "general" and "overflow" in row["flags"]
