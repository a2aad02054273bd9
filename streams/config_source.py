"""The routing config in force on a worker: from a file, then hot-swapped from the config topic."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from routing.config import ConfigError, RoutingConfig, config_version, load_config, parse_config

__all__ = [
    "DEFAULT_CONFIG",
    "ActiveConfig",
    "ConfigSource",
    "config_record",
    "parse_config_record",
]

log = logging.getLogger(__name__)


def _default_config() -> Path:
    """config/open.yaml of a source checkout, else the copy an installed wheel carries."""
    checkout = Path(__file__).resolve().parents[1] / "config" / "open.yaml"
    # pyproject's data-files put the examples under <prefix>/share/wavebreak/config.
    installed = Path(sys.prefix) / "share" / "wavebreak" / "config" / "open.yaml"
    return checkout if checkout.is_file() or not installed.is_file() else installed


DEFAULT_CONFIG = _default_config()
CONFIG_KEY = b"active"


@dataclass(frozen=True, slots=True)
class ActiveConfig:
    """A validated config with where it came from."""

    config: RoutingConfig
    version: str
    source: str
    loaded_at: datetime


def config_record(yaml_text: str, source: str, published_at: datetime) -> bytes:
    """The value published on the config topic: the YAML itself plus provenance."""
    return orjson.dumps(
        {"yaml": yaml_text, "source": source, "published_at": published_at.isoformat()}
    )


def parse_config_record(value: bytes) -> tuple[str, str]:
    """Return (yaml text, source) from a config topic record; raises ValueError if malformed."""
    data = orjson.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("yaml"), str):
        raise ValueError("config record must be a JSON object with a 'yaml' string")
    return data["yaml"], str(data.get("source") or "config topic")


class ConfigSource:
    """Holds the active config; offers of new ones are validated and swapped atomically.

    A refused offer (invalid YAML or schema) leaves the last good config in force; the
    problems are kept in `last_error` and reported through `on_refused`.
    """

    def __init__(
        self,
        initial: ActiveConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_applied: Callable[[ActiveConfig, ActiveConfig], None] | None = None,
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        self._active = initial
        self._clock = clock
        self._on_applied = on_applied
        self._on_refused = on_refused
        self._last_offer: bytes | None = None
        self.last_error: str | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> ConfigSource:
        """Start from a config file (raises ConfigError with every problem if invalid)."""
        config = load_config(path)
        now = kwargs.get("clock", lambda: datetime.now(UTC))()
        return cls(ActiveConfig(config, config_version(config), str(path), now), **kwargs)

    @property
    def active(self) -> ActiveConfig:
        """The config in force."""
        return self._active

    def __call__(self) -> RoutingConfig:
        """The config in force (the pipeline's provider)."""
        return self._active.config

    def offer(self, value: bytes) -> bool | None:
        """Consider a config topic record; True applied, False refused, None unchanged."""
        if value == self._last_offer:
            return None
        self._last_offer = value
        source = "config topic"
        try:
            text, source = parse_config_record(value)
            config = parse_config(text, source)
        except ConfigError as exc:
            return self._refuse(source, "\n".join(str(p) for p in exc.problems))
        except (ValueError, orjson.JSONDecodeError) as exc:
            return self._refuse(source, f"unreadable config record: {exc}")
        version = config_version(config)
        if version == self._active.version:
            return None
        previous = self._active
        self._active = ActiveConfig(config, version, source, self._clock())
        self.last_error = None
        log.info(
            "routing config %s from %s is in force (was %s)", version, source, previous.version
        )
        if self._on_applied:
            self._on_applied(previous, self._active)
        return True

    def _refuse(self, source: str, problems: str) -> bool:
        self.last_error = problems
        log.error(
            "refused routing config from %s; keeping %s. Problems:\n%s",
            source,
            self._active.version,
            problems,
        )
        if self._on_refused:
            self._on_refused(source, problems)
        return False
