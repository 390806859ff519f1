"""Wires the stages together from settings and runs the indexer until SIGTERM or SIGINT."""

from __future__ import annotations

import functools
import signal
import threading
from dataclasses import dataclass
from types import FrameType

import structlog
from elasticsearch import Elasticsearch

from indexer.bulk import BulkWriter
from indexer.consume import create_consumer
from indexer.es import create_client
from indexer.health import Health, HealthServer
from indexer.indices import IndexCreator
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

    def close(self) -> None:
        self.server.close()
        self.client.close()


def build_indexer(settings: Settings) -> Indexer:
    health = Health(liveness_timeout=settings.metrics.liveness_timeout_seconds)
    server = HealthServer(health, settings.metrics.host, settings.metrics.port)
    client = create_client(settings.elasticsearch)
    health.elasticsearch_ok = _reachable(client)
    writer_stop = threading.Event()
    writer = BulkWriter(
        client,
        IndexCreator(client),
        settings.retry,
        functools.partial(deadletter_index, settings.routing.index_prefix),
        writer_stop,
        on_reachability=functools.partial(setattr, health, "elasticsearch_ok"),
    )
    pipeline = Pipeline(
        settings,
        create_consumer(settings.kafka),
        writer,
        Router(settings.routing),
        health,
        writer_stop,
    )
    return Indexer(pipeline, health, server, client)


def run_indexer(settings: Settings) -> int:
    """Run until a signal (exit 0 after draining) or a fatal error (exit 1)."""
    configure_logging(settings.log)
    indexer = build_indexer(settings)
    _stop_on_signals(indexer.pipeline)
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


def _reachable(client: Elasticsearch) -> bool:
    try:
        client.info()
    except Exception as exc:
        log.warning("elasticsearch_unreachable", error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def _stop_on_signals(pipeline: Pipeline) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        log.info("signal", signal=signal.Signals(signum).name)
        pipeline.stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
