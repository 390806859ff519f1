"""Wires the stages together from settings and runs the indexer until SIGTERM or SIGINT."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TypeVar

import structlog

from indexer import build, heap
from indexer.admin import metrics as admin_metrics
from indexer.admin.errors import SetupError
from indexer.admin.preparer import IndexPreparer
from indexer.admin.runtime_check import check_runtime
from indexer.admin.setup import run_setup
from indexer.admin.sweeper import RetentionSweeper
from indexer.bulk import BulkWriter
from indexer.cluster import (
    ClusterError,
    ClusterInfo,
    ClusterUnavailable,
    SearchClient,
    connect,
)
from indexer.consume import create_consumer, total_lag
from indexer.core import CoreUnavailable, choose_core, native_take
from indexer.dead_letter_topic import DeadLetterTopic
from indexer.health import Health, HealthServer
from indexer.kafka_log import KafkaLogBridge
from indexer.log import configure_logging
from indexer.pipeline import Pipeline, PipelineFailed
from indexer.route import Router, deadletter_index
from indexer.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")


class MetricsUnavailable(Exception):
    """The metrics and health server cannot listen where the settings say."""


@dataclass
class Indexer:
    """Every long-lived part of a running indexer, wired from settings."""

    pipeline: Pipeline
    health: Health
    server: HealthServer
    client: SearchClient
    background_stop: threading.Event

    def close(self) -> None:
        self.background_stop.set()
        self.server.close()
        self.client.close()


def build_indexer(settings: Settings, stop: threading.Event | None = None) -> Indexer | None:
    """Wire the indexer. With `lifecycle.setup_on_start`, first apply templates and policies,
    retrying until the cluster takes them (readiness fails meanwhile, liveness does not).
    Returns None if `stop` is set before that succeeded; raises MetricsUnavailable when the
    health server cannot listen."""
    stop = stop or threading.Event()
    health = Health(
        liveness_timeout=settings.metrics.liveness_timeout_seconds,
        stall_seconds=settings.metrics.readiness_stall_seconds,
        lag=total_lag,
    )
    try:
        server = HealthServer(settings.metrics.host, settings.metrics.port, health.checks())
    except OSError as exc:  # the port is taken, or the address is not this host's
        raise MetricsUnavailable(
            f"cannot listen on {settings.metrics.host}:{settings.metrics.port} "
            f"(INDEXER_METRICS__HOST, __PORT): {exc.strerror or exc}"
        ) from exc
    log.info("listening", metrics_port=server.port)
    client = _until_done(
        stop,
        health,
        "connect",
        lambda: connect(settings.elasticsearch),
        on_failure=functools.partial(setattr, health, "elasticsearch_ok", False),
    )
    if client is None:
        server.close()
        return None
    health.elasticsearch_ok = True
    cluster = _apply_setup(client, settings, health, stop)
    if stop.is_set():
        server.close()
        client.close()
        return None
    background_stop = threading.Event()
    if cluster is not None and cluster.lifecycle in ("sweeper", "ism"):
        # ISM ages an index from its creation date and has no override; the sweeper deletes by
        # the day in the name, so a backfilled day does not live a whole retention from today.
        RetentionSweeper(client, settings).start(background_stop)
    writer = build_writer(
        settings,
        client,
        background_stop,
        cluster=cluster,
        on_reachability=functools.partial(setattr, health, "elasticsearch_ok"),
        on_namespace=_on_demand(settings, background_stop),
        on_templates=functools.partial(setattr, health, "setup_ok"),
    )
    kafka_log = KafkaLogBridge("consumer")
    health.kafka_problem = kafka_log.problem
    router = Router(settings.routing, settings.parsing)
    pipeline = Pipeline(
        settings,
        create_consumer(settings.kafka, kafka_log),
        writer,
        router,
        health,
        background_stop,
        native=native_take(settings, router),
    )
    return Indexer(pipeline, health, server, client, background_stop)


def build_writer(
    settings: Settings,
    client: SearchClient,
    stop: threading.Event,
    *,
    cluster: ClusterInfo | None = None,
    on_reachability: Callable[[bool], None] = lambda ok: None,
    on_namespace: Callable[[str], None] | None = None,
    on_templates: Callable[[bool], None] = lambda ok: None,
) -> BulkWriter:
    """The bulk writer every command writes with (`run`, the replays), so a message always lands
    in the index `indexer run` would pick. `on_templates`: see IndexPreparer."""
    topic = settings.deadletter.topic
    keep = settings.deadletter.max_original_bytes
    return BulkWriter(
        client,
        IndexPreparer(
            client,
            settings,
            cluster=cluster,
            on_namespace=on_namespace,
            on_templates=on_templates,
        ),
        settings.retry,
        functools.partial(deadletter_index, settings.routing.index_prefix),
        stop,
        on_reachability=on_reachability,
        deadletter_topic=DeadLetterTopic(settings.kafka, topic, keep) if topic else None,
        max_original_bytes=keep,
    )


def _kibana_on_demand(settings: Settings, stop: threading.Event) -> Callable[[str], None] | None:
    """With `kibana.url` set: the background worker that makes each new namespace's Kibana
    objects (indexer.kibana.ondemand), as the callback the preparer calls."""
    if settings.kibana.url is None:
        return None
    if settings.kibana.space_per_namespace and not settings.lifecycle.setup_on_start:
        _skip_tenancy("kibana", "kibana.space_per_namespace")
        return None
    from indexer.kibana.ondemand import KibanaProvisioner

    log.info("kibana_on_demand", kibana=settings.kibana.url)
    return KibanaProvisioner(settings, stop).start().submit


def _on_demand(settings: Settings, stop: threading.Event) -> Callable[[str], None] | None:
    """The callbacks the preparer calls for each new namespace: Kibana's and OpenSearch
    Dashboards' background setups, whichever is configured."""
    callbacks = [_kibana_on_demand(settings, stop), _dashboards_on_demand(settings, stop)]
    chosen = [callback for callback in callbacks if callback is not None]
    if len(chosen) < 2:
        return chosen[0] if chosen else None

    def both(namespace: str) -> None:
        for callback in chosen:
            callback(namespace)

    return both


def _dashboards_on_demand(
    settings: Settings, stop: threading.Event
) -> Callable[[str], None] | None:
    """With `dashboards.url` set: the background worker that makes each new namespace's
    OpenSearch Dashboards objects (indexer.dashboards.ondemand)."""
    if settings.dashboards.url is None:
        return None
    if settings.dashboards.tenant_per_namespace and not settings.lifecycle.setup_on_start:
        _skip_tenancy("dashboards", "dashboards.tenant_per_namespace")
        return None
    from indexer.dashboards.ondemand import DashboardsProvisioner

    log.info("dashboards_on_demand", dashboards=settings.dashboards.url)
    return DashboardsProvisioner(settings, stop).start().submit


def _skip_tenancy(target: str, setting: str) -> None:
    """A space (tenant) and a role per namespace need security privileges (Kibana's
    `manage_security`), which the runtime role does not hold: the setup path makes them
    (`indexer kibana setup` / `indexer dashboards setup`, docs/operations.md)."""
    log.warning(
        "on_demand_skipped",
        target=target,
        reason=f"{setting} needs security privileges; lifecycle.setup_on_start is false, so "
        f"this runs with the runtime role: run `indexer {target} setup` from the setup path",
    )


def run_indexer(settings: Settings) -> int:
    """Run until a signal (exit 0 after draining) or a fatal error (exit 1)."""
    configure_logging(settings.log)
    try:
        core = choose_core(settings)
    except CoreUnavailable as exc:
        log.error("exiting", reason=str(exc))
        return 1
    log.info("core", core=core.name, version=core.version, why=core.why)
    stop = threading.Event()
    holder: list[Pipeline] = []
    _stop_on_signals(stop, holder)
    try:
        indexer = build_indexer(settings, stop)
    except MetricsUnavailable as exc:
        log.error("exiting", reason=str(exc))
        return 1
    if indexer is None:
        return 0
    holder.append(indexer.pipeline)
    if stop.is_set():
        indexer.pipeline.stop()
    log.info(
        "started",
        version=build.VERSION,
        core=core.name,
        metrics_port=indexer.server.port,
        elasticsearch=settings.elasticsearch.hosts,
    )
    heap.settle()
    try:
        indexer.pipeline.run()
    except PipelineFailed as exc:
        log.error("exiting", reason=str(exc))
        return 1
    finally:
        indexer.close()
    return 0


def _apply_setup(
    client: SearchClient, settings: Settings, health: Health, stop: threading.Event
) -> ClusterInfo | None:
    """With setup on start: apply it (retried). Without (the runtime role): wait until setup has
    run (indexer/admin/runtime_check.py), changing nothing; readiness fails meanwhile."""
    health.setup_ok = False
    if not settings.lifecycle.setup_on_start:
        cluster = _until_done(
            stop,
            health,
            "templates_check",
            lambda: check_runtime(client, settings),
            on_failure=functools.partial(admin_metrics.SETUP_OK.set, 0),
        )
        if cluster is not None:
            admin_metrics.SETUP_OK.set(1)
            health.setup_ok = True
        return cluster
    report = _until_done(
        stop,
        health,
        "setup",
        lambda: run_setup(client, settings),
        on_failure=functools.partial(admin_metrics.SETUP_OK.set, 0),
    )
    if report is None:
        return None
    for note in report.notes:
        log.warning("setup_note", note=note)
    for check in report.checks:
        log.info("preflight", check=check)
    admin_metrics.SETUP_OK.set(1)
    health.setup_ok = True
    log.info("setup_applied", lifecycle=report.cluster.lifecycle)
    return report.cluster


def _until_done(
    stop: threading.Event,
    health: Health,
    what: str,
    attempt: Callable[[], T],
    on_failure: Callable[[], object],
) -> T | None:
    """Repeat `attempt` with capped backoff until it succeeds or `stop` is set (then None).
    Meanwhile readiness fails and liveness holds: nothing can be written before it succeeds.

    `stop` interrupts an attempt too: a cluster that accepts the connection and never answers
    holds a request for its whole timeout, longer than a pod's grace period may be. Nothing is
    consumed yet, so an abandoned attempt loses nothing."""
    delay = 1.0
    while not stop.is_set():
        health.beat()
        try:
            return _interruptible(stop, health, attempt)
        except _Stopped:
            return None
        except (SetupError, ClusterError, ClusterUnavailable) as exc:
            on_failure()
            log.error(f"{what}_failed", error=f"{type(exc).__name__}: {exc}"[:500], retry_in=delay)
            stop.wait(delay)
            delay = min(delay * 2, 60.0)
    return None


class _Stopped(Exception):
    """`stop` was set while an attempt was waiting."""


def _interruptible(stop: threading.Event, health: Health, attempt: Callable[[], T]) -> T:
    """`attempt()` in a daemon thread: its result or its exception, or _Stopped as soon as
    `stop` is set (within 0.1 s), the attempt left to end or die with the process."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(attempt())
        except BaseException as exc:  # handed to the caller's thread as it is
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="startup-attempt", daemon=True).start()
    while not done.wait(0.1):
        if stop.is_set():
            raise _Stopped
        health.beat()
    if failure:
        raise failure[0]
    return outcome[0]


def _stop_on_signals(stop: threading.Event, pipelines: list[Pipeline]) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        stop.set()
        for pipeline in pipelines:
            pipeline.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
