"""The command line: help everywhere, offline commands, and errors a person can act on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from routing.channels import Channel
from streams.cli import main
from tests.unit.conftest import envelope, raw

COMMANDS = [
    "run",
    "worker",
    "broker",
    "publish",
    "tail",
    "normalize",
    "schema",
    "validate",
    "config",
    "route",
    "explain",
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: wavebreak" in capsys.readouterr().out


def test_eval_help(capsys: pytest.CaptureFixture[str]) -> None:
    for what in ("sentiment", "waves"):
        with pytest.raises(SystemExit):
            main(["eval", what, "--help"])
        assert "--data" in capsys.readouterr().out


def test_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", "/nonexistent/contacts.jsonl"]) == 1
    err = capsys.readouterr().err
    assert "cannot open /nonexistent/contacts.jsonl" in err and "Traceback" not in err


def test_normalize_command_prints_one_json_per_line(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(raw(envelope("chat")) + b"\n" + b"not json\n")
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "normalize", str(f), "--strict"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1  # --strict: a dead letter was printed
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert lines[0]["channel"] == "chat" and lines[1]["reason"] == "not_json"
    assert "1 contacts, 1 dead letters (not_json=1)" in done.stderr.decode()


@pytest.mark.parametrize("channel", [c.value for c in Channel])
def test_schema_per_channel_is_strict(channel: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", channel]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["channel"] == {"enum": [channel]}
    assert schema["additionalProperties"] is False
