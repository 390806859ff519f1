"""Wires the stages together from settings and runs the indexer until SIGTERM or SIGINT."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType

import structlog
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch

from indexer.admin import metrics as admin_metrics
from indexer.admin.cluster import ClusterInfo
from indexer.admin.preparer import IndexPreparer
from indexer.admin.setup import SetupError, run_setup
from indexer.admin.sweeper import RetentionSweeper
from indexer.bulk import BulkWriter
from indexer.consume import create_consumer
from indexer.dlq import DeadLetterTopic
from indexer.es import create_client
from indexer.health import Health, HealthServer
from indexer.log import configure_logging
from indexer.pipeline import Pipeline, PipelineFailed
from indexer.route import Router, deadletter_index
from indexer.settings import Settings

log = structlog.get_logger(__name__)


@dataclass
class Indexer:
    """Every long-lived part of a running indexer, wired from settings."""

    pipeline: Pipeline
    health: Health
    server: HealthServer
    client: Elasticsearch
    background_stop: threading.Event

    def close(self) -> None:
        self.background_stop.set()
        self.server.close()
        self.client.close()


def build_indexer(settings: Settings, stop: threading.Event | None = None) -> Indexer | None:
    """Wire the indexer. With `lifecycle.setup_on_start`, first apply templates and policies,
    retrying until the cluster takes them (readiness fails meanwhile, liveness does not).
    Returns None if `stop` is set before that succeeded."""
    stop = stop or threading.Event()
    health = Health(liveness_timeout=settings.metrics.liveness_timeout_seconds)
    server = HealthServer(settings.metrics.host, settings.metrics.port, health.checks())
    log.info("listening", metrics_port=server.port)
    client = create_client(settings.elasticsearch)
    health.elasticsearch_ok = _reachable(client)
    cluster = _apply_setup(client, settings, health, stop)
    if stop.is_set():
        server.close()
        return None
    background_stop = threading.Event()
    if cluster is not None and cluster.lifecycle == "sweeper":
        RetentionSweeper(client, settings).start(background_stop)
    writer = build_writer(
        settings,
        client,
        background_stop,
        cluster=cluster,
        on_reachability=functools.partial(setattr, health, "elasticsearch_ok"),
    )
    pipeline = Pipeline(
        settings,
        create_consumer(settings.kafka),
        writer,
        Router(settings.routing),
        health,
        background_stop,
    )
    return Indexer(pipeline, health, server, client, background_stop)


def build_writer(
    settings: Settings,
    client: Elasticsearch,
    stop: threading.Event,
    *,
    cluster: ClusterInfo | None = None,
    on_reachability: Callable[[bool], None] = lambda ok: None,
) -> BulkWriter:
    """The bulk writer every command writes with (`run`, the replays), so a message always lands
    in the index `indexer run` would pick."""
    topic = settings.deadletter.topic
    return BulkWriter(
        client,
        IndexPreparer(client, settings, cluster=cluster),
        settings.retry,
        functools.partial(deadletter_index, settings.routing.index_prefix),
        stop,
        on_reachability=on_reachability,
        deadletter_topic=DeadLetterTopic(settings.kafka, topic) if topic else None,
    )


def run_indexer(settings: Settings) -> int:
    """Run until a signal (exit 0 after draining) or a fatal error (exit 1)."""
    configure_logging(settings.log)
    stop = threading.Event()
    holder: list[Pipeline] = []
    _stop_on_signals(stop, holder)
    indexer = build_indexer(settings, stop)
    if indexer is None:
        return 0
    holder.append(indexer.pipeline)
    if stop.is_set():
        indexer.pipeline.stop()
    log.info(
        "started", metrics_port=indexer.server.port, elasticsearch=settings.elasticsearch.hosts
    )
    try:
        indexer.pipeline.run()
    except PipelineFailed as exc:
        log.error("exiting", reason=str(exc))
        return 1
    finally:
        indexer.close()
    return 0


def _apply_setup(
    client: Elasticsearch, settings: Settings, health: Health, stop: threading.Event
) -> ClusterInfo | None:
    if not settings.lifecycle.setup_on_start:
        return None
    health.setup_ok = False
    delay = 1.0
    while not stop.is_set():
        health.beat()
        try:
            report = run_setup(client, settings)
        except (SetupError, ApiError, TransportError) as exc:
            admin_metrics.SETUP_OK.set(0)
            log.error("setup_failed", error=f"{type(exc).__name__}: {exc}"[:500], retry_in=delay)
            stop.wait(delay)
            delay = min(delay * 2, 60.0)
            continue
        for note in report.notes:
            log.warning("setup_note", note=note)
        admin_metrics.SETUP_OK.set(1)
        health.setup_ok = True
        log.info("setup_applied", lifecycle=report.cluster.lifecycle)
        return report.cluster
    return None


def _reachable(client: Elasticsearch) -> bool:
    try:
        client.info()
    except Exception as exc:
        log.warning("elasticsearch_unreachable", error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def _stop_on_signals(stop: threading.Event, pipelines: list[Pipeline]) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        stop.set()
        for pipeline in pipelines:
            pipeline.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
