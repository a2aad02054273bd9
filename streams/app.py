"""Builds a configured worker: faust app (control plane, web views) plus the two lean stages."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from mode.types.signals import BaseSignalT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from routing.policy import queue_loads
from routing.waves import LoadState, StateChange, WaveDetector
from streams import codecs
from streams.agents import install_load
from streams.config_source import CONFIG_KEY, DEFAULT_CONFIG, ActiveConfig, ConfigSource
from streams.embedded_fixes import (
    SeekFirstTableManager,
    install_consumer,
    true_end_offsets,
)
from streams.ingest import Normalizer
from streams.kafka import client_options
from streams.load import Cached, TickAggregator, TickCounter, load_state
from streams.metrics import Metrics
from streams.mirror import TopicMirror
from streams.normalize_stage import NormalizeStage
from streams.observer import FanOut, LoadObserver, MetricsObserver
from streams.pipeline import Pipeline
from streams.route_stage import RouteStage
from streams.sensor import LagMonitor
from streams.settings import Settings
from streams.stage import StageKafka
from streams.sweep import MemorySweep
from streams.topics import TopicNames

__all__ = ["WavebreakApp", "Worker", "create_app", "faust_credentials"]

log = logging.getLogger(__name__)

# Producer settings of both stages (faust's producer and the normalize stage's own).
_LINGER_S = 0.005
_MAX_BATCH_BYTES = 256 * 1024
_MAX_REQUEST_BYTES = 2 * 1024 * 1024


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
    config: ConfigSource
    load: Callable[[], LoadState]


class _App(faust.App):
    """faust's App, plus tasks that start with the app rather than after its first rebalance.

    faust starts `app.task`s, timers and services only once its own consumer group has
    joined and recovered (18 s of a restart on the embedded broker). The normalize and
    route stages and the topic mirrors have their own consumers and need none of that,
    so they start with the app and route while faust's group (load ticks) still joins.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.early_tasks: list[Callable[[], Awaitable[Any]]] = []

    async def on_start(self) -> None:
        """Start the early tasks (stopped with the app, like faust's own futures)."""
        await super().on_start()
        for task in self.early_tasks:
            self.add_future(task())


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
    config: ConfigSource | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> WavebreakApp:
    """Create the wavebreak faust app for `settings` (one per process).

    Raises:
        ConfigError: the initial routing config file (WAVEBREAK_CONFIG) is invalid.
    """
    codecs.register()
    metrics = metrics or Metrics.create()
    topics = TopicNames.from_settings(settings)
    config = config or ConfigSource.from_file(settings.config_path or DEFAULT_CONFIG, clock=clock)
    app = _App(
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
        producer_linger=_LINGER_S,
        producer_max_batch_size=_MAX_BATCH_BYTES,
        producer_max_request_size=_MAX_REQUEST_BYTES,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_enabled=True,
    )
    # Consumer lag and commit latency into our registry (faust's PrometheusMonitor costs
    # ~45 us per contact on the hot path; see streams/sensor.py).
    lag_monitor = LagMonitor(metrics)
    app.monitor = lag_monitor
    # Before the first topic: the guard against committing offsets faust skipped, and the
    # fetch max wait (see GuardedConsumer).
    for topic in (topics.load_ticks,):  # the contacts topics are read by the lean stages
        for outcome in ("refetched", "confirmed"):
            metrics.offset_gaps.labels(topic, outcome)  # series start at 0: first one counts
    install_consumer(
        app,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        on_gap=lambda outcome, topic, *_: metrics.offset_gaps.labels(topic, outcome).inc(),
    )
    # faust resumes stream partitions before seeking them after a rebalance; see
    # SeekFirstRecovery (the load-tick agent is faust's only stream now).
    app.conf.TableManager = SeekFirstTableManager  # type: ignore[assignment]  # faust types this setting as a typing form
    raw_schema: Any = faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    # --- routing config: file at start, then the config topic (validated, atomic swap)
    def config_applied(previous: ActiveConfig, current: ActiveConfig) -> None:
        metrics.config_info.labels(previous.version, previous.config.strategy).set(0)
        metrics.config_info.labels(current.version, current.config.strategy).set(1)
        metrics.config_reloads.labels("applied").inc()

    def config_refused(source: str, problems: str) -> None:
        metrics.config_reloads.labels("refused").inc()

    config._on_applied = config_applied
    config._on_refused = config_refused
    active = config.active
    metrics.config_info.labels(active.version, active.config.strategy).set(1)

    kafka_options = client_options(settings)
    config_mirror = TopicMirror(
        topics.config,
        kafka_options,
        decode=lambda b: b,
        on_update=lambda key, value: _offer_config(config, key, value),
    )

    # --- capacity snapshots from the ACD/WFM system (optional)
    capacity_mirror = TopicMirror(topics.capacity, kafka_options, decode=codecs.loads)
    capacity = Cached(lambda: queue_loads({k.decode(): v for k, v in capacity_mirror.data.items()}))

    # --- wave detection: ticks -> one aggregator -> load-state topic, mirrored by every worker
    ticks_topic = app.topic(topics.load_ticks, partitions=1, schema=raw_schema)
    load_mirror = TopicMirror(topics.load_state, kafka_options, decode=codecs.loads)
    load_view = Cached(lambda: load_state(load_mirror.data))

    for mirror in (config_mirror, capacity_mirror, load_mirror):
        app.early_tasks.append(mirror.run)
    counter = TickCounter()

    def detector_factory(checkpoint: Any) -> WaveDetector:
        wave_settings = config().waves.detector
        if checkpoint:
            try:
                return WaveDetector.from_checkpoint(checkpoint, wave_settings)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("wave detector checkpoint unusable (%s); starting fresh", exc)
        return WaveDetector(wave_settings)

    def on_changes(changes: list[StateChange]) -> None:
        for c in changes:
            metrics.wave_changes.labels(c.channel, c.signal.value, c.current.value).inc()
            log.info(
                "load %s %s: %s -> %s (rate %.2f/s, baseline %.2f/s, ratio %.1f)",
                c.channel,
                c.signal.value,
                c.previous.value,
                c.current.value,
                c.rate,
                c.baseline,
                c.ratio,
            )

    aggregator = TickAggregator()
    reset_aggregation = install_load(
        app,
        ticks_topic=ticks_topic,
        load_state_topic=topics.load_state,
        counter=counter,
        aggregator=aggregator,
        detector_factory=detector_factory,
        load_table=load_mirror.data,
        on_changes=on_changes,
        worker_id=f"{socket.gethostname()}-{os.getpid()}",
        clock=lambda: clock().timestamp(),
    )

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        reset_aggregation()

    late_seen = [0]

    @app.timer(1.0, name="wavebreak.load.gauges")
    async def load_gauges() -> None:
        metrics.observe_load(load_view())
        metrics.late_ticks.inc(aggregator.late - late_seen[0])
        late_seen[0] = aggregator.late
        metrics.observe_capacity(config(), capacity())
        lag_monitor.refresh(app.consumer.assignment())

    # --- the hot path
    normalizer = Normalizer(
        clock,
        max_bytes=settings.max_message_bytes,
        phone_region=settings.phone_region,
        identity_salt=settings.identity_salt.get_secret_value().encode(),
    )
    pipeline = Pipeline(
        topics,
        normalizer,
        clock,
        config=config,
        load=load_view,
        capacity=capacity,
        observer=FanOut(MetricsObserver(metrics), LoadObserver(counter)),
        native_memory=True,  # the route stage's store holds CustomerMemory objects
    )
    # normalize and route: lean aiokafka loops, each with its own consumer group (faust's
    # per-event machinery cost as much as the work; see NormalizeStage and RouteStage).
    stage_consumer: dict[str, Any] = {
        "session_timeout_ms": int(settings.session_timeout * 1000),
        "heartbeat_interval_ms": int(settings.heartbeat_interval * 1000),
    }
    if settings.fetch_max_wait_ms is not None:
        stage_consumer["fetch_max_wait_ms"] = settings.fetch_max_wait_ms
    stage_producer = {
        "linger_ms": int(_LINGER_S * 1000),
        "max_batch_size": _MAX_BATCH_BYTES,
        "max_request_size": _MAX_REQUEST_BYTES,
        "acks": "all",
    }
    normalize_stage = NormalizeStage(
        pipeline,
        metrics,
        topic=topics.raw,
        kafka=StageKafka(
            settings.normalize_group_id,
            kafka_options,
            stage_consumer,
            stage_producer,
            settings.batch_size,
        ),
    )

    async def changelog_ends(reported: Any) -> Any:
        # The embedded broker reports end offsets up to one batch short (see the README).
        return await true_end_offsets(reported, kafka_options) if settings.embedded else reported

    route_stage = RouteStage(
        pipeline,
        metrics,
        topic=topics.normalized,
        changelog=topics.memory_changelog,
        kafka=StageKafka(
            settings.route_group_id,
            kafka_options,
            stage_consumer,
            stage_producer,
            settings.batch_size,
        ),
        end_offsets=changelog_ends,
        # A worker that starts reads the latest published config before routing.
        before_routing=config_mirror.ready.wait,
        # Earlier workers routed contacts.normalized in faust's group (see RouteStage).
        legacy_group=settings.app_id,
    )
    app.early_tasks += [normalize_stage.run, route_stage.run]

    # --- customer memory: delete what expired (a customer who never writes again)
    sweep = MemorySweep(
        route_stage.store.partitions,
        flush=route_stage.flush_changelog,
        expires_at=pipeline.memory_expires_at,
        clock=lambda: clock().timestamp(),
    )

    @app.timer(settings.memory_sweep_seconds, name="wavebreak.memory.sweep")
    async def sweep_memory() -> None:
        if not route_stage.settled():
            return  # partitions are moving: sweep once they are settled
        result = await sweep.sweep()
        metrics.memory_customers.set(result.held)
        metrics.memory_expired.inc(result.expired)
        metrics.memory_sweeps.inc()
        if result.expired:
            log.info("memory sweep: %d expired, %d held", result.expired, result.held)

    # --- web views
    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so the header is set directly.
        return web.bytes(
            generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    @app.page("/load")
    async def load_page(web: Any, request: Any) -> Any:
        return web.json(load_view().to_dict())

    @app.page("/config")
    async def config_page(web: Any, request: Any) -> Any:
        a = config.active
        return web.json(
            {
                "version": a.version,
                "strategy": a.config.strategy,
                "source": a.source,
                "loaded_at": a.loaded_at.isoformat(),
                "last_refused": config.last_error,
            }
        )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        routing = route_stage.settled()
        normalizing = bool(normalize_stage.assignment())
        mirrors = config_mirror.ready.is_set() and load_mirror.ready.is_set()
        ready = routing and normalizing and mirrors
        body = {
            "ready": ready,
            "partitions_assigned": routing,
            "normalize_partitions_assigned": normalizing,
            "config_and_load_state_read": mirrors,
            "config": config.active.version,
        }
        return web.json(body, status=200 if ready else 503)

    return WavebreakApp(
        app=app,
        settings=settings,
        topics=topics,
        metrics=metrics,
        pipeline=pipeline,
        config=config,
        load=load_view,
    )


def _offer_config(config: ConfigSource, key: bytes, value: Any) -> None:
    if key == CONFIG_KEY:
        config.offer(value)


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
