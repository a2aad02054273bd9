"""aiokafka client options and topic setup derived from the runtime settings."""

from __future__ import annotations

import ssl
from typing import Any

from streams.settings import Settings
from streams.topics import TopicNames

__all__ = ["BrokerUnreachable", "client_options", "ensure_topics"]


class BrokerUnreachable(RuntimeError):
    """The Kafka cluster could not be reached or refused the request."""


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for aiokafka producers, consumers and admin clients."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    if "SSL" in settings.security_protocol:
        opts["ssl_context"] = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = settings.sasl_mechanism
        opts["sasl_plain_username"] = settings.sasl_username
        opts["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return opts


async def ensure_topics(settings: Settings, timeout: float = 15.0) -> dict[str, int]:
    """Create every wavebreak topic that is missing, with its declared partition count.

    Existing topics are left alone (partitions are never changed behind an operator's back).
    Returns topic -> partitions as the broker reports them.
    """
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    wanted = TopicNames.from_settings(settings).partitions()
    compacted = TopicNames.from_settings(settings).compacted()
    admin = AIOKafkaAdminClient(request_timeout_ms=int(timeout * 1000), **client_options(settings))
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(
                    name,
                    parts,
                    settings.replication_factor,
                    topic_configs={"cleanup.policy": "compact"} if name in compacted else {},
                )
                for name, parts in wanted.items()
                if name not in existing
            ]
            if missing:
                response = await admin.create_topics(missing)
                errors = [e for e in response.topic_errors if e[1] not in (0, 36)]
                if errors:  # 36 = TOPIC_ALREADY_EXISTS: another worker won the race
                    raise BrokerUnreachable(f"creating topics failed: {errors}")
            described = await admin.describe_topics(list(wanted))
    except (TimeoutError, KafkaError, OSError) as exc:
        raise BrokerUnreachable(
            f"cannot reach the Kafka cluster at {settings.bootstrap_servers} "
            f"({type(exc).__name__}). Is it running? For a local one: `wavebreak broker`, "
            "then pass --broker kafka://127.0.0.1:PORT (or set WAVEBREAK_BROKER)."
        ) from exc
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described}
