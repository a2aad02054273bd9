"""Architecture rules: routing/ stays pure, and every module has a docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("faust", "aiokafka", "kafka", "prometheus_client", "mode", "aiohttp", "streams")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


ROUTING_FILES = sorted((ROOT / "routing").rglob("*.py"))


@pytest.mark.parametrize("path", ROUTING_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_routing_is_pure(path: Path) -> None:
    bad = imports_of(path) & set(FORBIDDEN)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}; routing/ must stay pure"


def test_rule_catches_a_violation(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text("from faust import App\nimport prometheus_client.core\n")
    assert imports_of(f) & set(FORBIDDEN) == {"faust", "prometheus_client"}


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "routing").rglob("*.py"), *(ROOT / "streams").rglob("*.py")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_module_docstring(path: Path) -> None:
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), path


def test_ingest_does_not_import_faust() -> None:
    # `wavebreak normalize` and the offline tools must not pay for (or depend on) faust.
    for path in (ROOT / "streams" / "ingest").rglob("*.py"):
        assert not imports_of(path) & {"faust", "aiokafka", "mode"}, path
