"""Builds a configured faust application: topics, customer-memory table, agents and web views."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from routing.first_route import BUILTIN_VERSION, route_by_channel
from routing.memory import DedupSettings
from streams import codecs
from streams.agents import install_agents
from streams.ingest import Normalizer
from streams.metrics import Metrics
from streams.observer import MetricsObserver
from streams.pipeline import Pipeline, Router
from streams.settings import Settings
from streams.topics import TopicNames

__all__ = ["WavebreakApp", "Worker", "create_app", "faust_credentials"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WavebreakApp:
    """A faust app with everything wired; `app` is what `faust.Worker` runs."""

    app: faust.App
    settings: Settings
    topics: TopicNames
    metrics: Metrics
    pipeline: Pipeline


def faust_credentials(settings: Settings) -> Any:
    """Return faust broker credentials for the configured security protocol, or None."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile) if "SSL" in proto else None
    if proto == "SSL":
        return faust.SSLCredentials(context)
    if settings.sasl_username is None or settings.sasl_password is None:
        raise ValueError(f"{proto} needs WAVEBREAK_SASL_USERNAME and WAVEBREAK_SASL_PASSWORD")
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=settings.sasl_password.get_secret_value(),
        mechanism=settings.sasl_mechanism,
        ssl_context=context,
    )


def create_app(
    settings: Settings,
    *,
    metrics: Metrics | None = None,
    router: Router = route_by_channel,
    clock: Callable[[], datetime] = _utcnow,
) -> WavebreakApp:
    """Create the wavebreak faust app for `settings` (one per process)."""
    codecs.register()
    metrics = metrics or Metrics.create()
    topics = TopicNames.from_settings(settings)
    app = faust.App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=faust_credentials(settings),
        autodiscover=False,
        store="memory://",
        processing_guarantee="at_least_once",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        # Batches need many records per poll; faust's per-event machinery is the limit.
        broker_max_poll_records=max(settings.batch_size * 2, 500),
        stream_buffer_maxsize=max(settings.batch_size * 4, 4096),
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        producer_max_request_size=2 * 1024 * 1024,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_enabled=True,
    )

    def data_topic(name: str) -> faust.TopicT:
        return app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.partitions,
            key_serializer="raw",
            value_serializer="raw",
        )

    raw_topic = data_topic(topics.raw)
    normalized_topic = data_topic(topics.normalized)
    memory = app.Table(
        "customer-memory",
        default=None,
        partitions=settings.partitions,
        # Keys stay bytes end to end so a recovered changelog key is the same object type
        # as the lookup key (a str key would come back as bytes through the raw codec).
        schema=faust.Schema(
            key_type=bytes, value_type=dict, key_serializer="raw", value_serializer="orjson"
        ),
        help="per-customer memory: routed contact ids (dedup) and, later, recent contacts",
    )
    normalizer = Normalizer(
        clock,
        max_bytes=settings.max_message_bytes,
        phone_region=settings.phone_region,
        identity_salt=settings.identity_salt.get_secret_value().encode(),
    )
    pipeline = Pipeline(
        topics,
        normalizer,
        router,
        clock,
        dedup=DedupSettings(settings.dedup_window_seconds, settings.dedup_max_per_customer),
        observer=MetricsObserver(metrics),
    )
    install_agents(
        app,
        pipeline,
        metrics,
        raw_topic=raw_topic,
        normalized_topic=normalized_topic,
        memory=memory,
        batch_size=settings.batch_size,
        batch_within=settings.batch_within,
    )
    metrics.config_info.labels(BUILTIN_VERSION, "open").set(1)

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the header is set directly.
        return web.bytes(
            generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        ready = bool(app.rebalancing is False and app.consumer.assignment())
        body = {"ready": ready, "config_version": BUILTIN_VERSION}
        return web.json(body, status=200 if ready else 503)

    return WavebreakApp(
        app=app, settings=settings, topics=topics, metrics=metrics, pipeline=pipeline
    )


class Worker(faust.Worker):
    """faust's worker without the terminal spinner.

    With a log level of WARNING or above, faust installs a spinner handler and lowers the
    root logger to DEBUG, so every debug call in aiokafka and faust builds a log record on
    the hot path; measured, that cost about a tenth of the worker's CPU.
    """

    def __init__(self, app: faust.App, *, loglevel: str = "info", **kwargs: Any) -> None:
        super().__init__(app, loglevel=loglevel, quiet=True, redirect_stdouts=False, **kwargs)
        self.spinner = None

    def on_setup_root_logger(self, logger: Any, level: int) -> None:
        """Keep the root logger at the configured level (no spinner handler)."""
