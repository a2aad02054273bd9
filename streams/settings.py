"""Runtime settings of a worker: one frozen, validated model read from WAVEBREAK_* variables."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a worker needs to run; the routing config is separate (YAML, hot reloaded).

    Every field can be set as an environment variable with the `WAVEBREAK_` prefix,
    e.g. `WAVEBREAK_BROKER=kafka://kafka-1:9092,kafka://kafka-2:9092`.
    """

    model_config = SettingsConfigDict(
        env_prefix="WAVEBREAK_",
        frozen=True,
        extra="forbid",
        # WAVEBREAK_CONFIG names the routing config file (the field is config_path).
        populate_by_name=True,
    )

    broker: str = Field(
        default="kafka://127.0.0.1:9092",
        description="Kafka bootstrap servers as faust URLs; comma-separated for several",
    )
    app_id: str = Field(default="wavebreak", description="consumer group and table namespace")
    topic_prefix: str = Field(default="wavebreak", pattern=r"^[A-Za-z0-9._-]+$")
    partitions: int = Field(default=4, ge=1, le=1024, description="partitions of data topics")
    replication_factor: int = Field(default=1, ge=1, le=7)
    create_topics: bool = Field(
        default=True, description="create missing topics with `partitions` at startup"
    )
    embedded: bool = Field(
        default=False,
        description="the broker is the embedded Tansu: apply its workarounds (README)",
    )

    config_path: str | None = Field(
        default=None,
        validation_alias=AliasChoices("WAVEBREAK_CONFIG", "WAVEBREAK_CONFIG_PATH"),
        description="routing config YAML a worker starts with (default: config/open.yaml); "
        "configs published to the config topic replace it while running",
    )

    # Security (production clusters).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None

    # Web server: /metrics, /healthz, /config.
    web_host: str = "0.0.0.0"
    web_port: int = Field(default=6066, ge=0, le=65535)

    # Hot path.
    batch_size: int = Field(
        default=500, ge=1, le=10_000, description="most records per fetch of either stage"
    )
    fetch_max_wait_ms: int | None = Field(
        default=None,
        ge=1,
        le=30_000,
        description=(
            "max wait of the worker's fetches; None keeps the clients' defaults (500 ms "
            "in the normalize and route stages, 1,500 ms in faust's load-tick consumer). "
            "The embedded broker holds a fetch up to that long"
        ),
    )
    max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    phone_region: str = Field(default="RU", min_length=2, max_length=2)
    identity_salt: SecretStr = Field(
        default=SecretStr(""), description="keyed-hash salt for customer keys (set per deployment)"
    )
    # The dedup window and history length are the routing config's `memory` section (hot
    # reloaded); this is only how often a worker deletes the memories that have expired.
    memory_sweep_seconds: float = Field(
        default=300.0,
        gt=0,
        description="how often expired customer memories are deleted (table + changelog)",
    )

    # Consumer group timing: the embedded broker makes a joining member wait half the
    # session timeout, so the defaults are short enough for quick starts, long enough for GC.
    session_timeout: float = Field(default=10.0, ge=1.0, le=300.0)
    heartbeat_interval: float = Field(default=1.0, gt=0.0, le=30.0)

    @field_validator("broker")
    @classmethod
    def _broker_urls(cls, value: str) -> str:
        for url in value.split(","):
            url = url.strip()
            if not url.startswith(("kafka://", "aiokafka://")) or len(url) <= len("kafka://"):
                raise ValueError(
                    f"broker must be kafka://HOST:PORT[,kafka://HOST:PORT...], got {url!r}"
                )
        return value

    @property
    def normalize_group_id(self) -> str:
        """Consumer group of the normalize stage."""
        return f"{self.app_id}-normalize"

    @property
    def route_group_id(self) -> str:
        """Consumer group of the route stage (faust's own group `app_id` reads load ticks)."""
        return f"{self.app_id}-route"

    @property
    def bootstrap_servers(self) -> str:
        """Bootstrap servers as plain HOST:PORT list for aiokafka clients."""
        return ",".join(u.strip().split("://", 1)[1] for u in self.broker.split(","))

    def topic(self, name: str) -> str:
        """Return the full topic name for a logical name such as 'contacts.raw'."""
        return f"{self.topic_prefix}.{name}"
