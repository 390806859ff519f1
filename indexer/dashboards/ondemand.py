"""OpenSearch Dashboards objects on demand: each namespace's index pattern (and tenant and
role) made in the background as the indexer prepares the namespace's first index.

The worker, its contract and its backoff are Kibana's (indexer/kibana/ondemand.py): `submit`
never blocks and does no I/O, one daemon thread does the requests once per namespace per
process, failures are retried with capped, jittered backoff (`dashboards.retry_*`), logged once
per failure streak and counted in `indexer_dashboards_setup_total{result="error"}`. Only what
one attempt does differs.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from indexer import metrics
from indexer.cluster import SearchClient, client_for
from indexer.dashboards.client import DashboardsClient
from indexer.dashboards.objects import Desired, desired, read_sources
from indexer.dashboards.setup import apply
from indexer.kibana.ondemand import KibanaProvisioner
from indexer.settings import Settings

log = structlog.get_logger(__name__)


class DashboardsProvisioner(KibanaProvisioner):
    """Kibana's worker, making OpenSearch Dashboards objects."""

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, stop, clock=clock)
        self._dashboards = settings.dashboards
        self._cluster_settings = settings.elasticsearch
        self._osd: DashboardsClient | None = None
        self._cluster: SearchClient | None = None
        self._osd_sources: list[Any] | None = None

    def _attempt(self, namespace: str) -> None:
        try:
            if self._osd_sources is None:
                self._osd_sources = read_sources(self._dashboards.objects_dir)
            if self._osd is None:
                self._osd = DashboardsClient(self._dashboards)
            wanted = desired(
                self._osd_sources,
                self._prefix,
                [namespace],
                tenant_per_namespace=self._dashboards.tenant_per_namespace,
            )
            if self._globals_done:
                wanted = Desired(
                    wanted.tenants,
                    [p for p in wanted.index_patterns if p.id.endswith(f"-ns-{namespace}")],
                    wanted.roles,
                )
            if (wanted.tenants or wanted.roles) and self._cluster is None:
                self._cluster = client_for(self._cluster_settings)
            report = apply(self._osd, self._cluster, wanted)
        except Exception as exc:  # Dashboards down, refusing, or bad files: all retried
            self._failed(namespace, exc)
            return
        self._globals_done = True
        metrics.DASHBOARDS_SETUP.labels(report.result).inc()
        recovered = self._failing.pop(namespace, None) is not None
        log.info(
            "dashboards_setup",
            namespace=namespace,
            result=report.result,
            recovered=recovered,
            objects=[line for line in report.lines() if " unchanged" not in line],
        )

    def _failed(self, namespace: str, exc: Exception) -> None:
        metrics.DASHBOARDS_SETUP.labels("error").inc()
        previous = self._failing.get(namespace)
        delay = (
            self._dashboards.retry_initial_seconds
            if previous is None
            else min(previous * 2, self._dashboards.retry_max_seconds)
        )
        self._failing[namespace] = delay
        if previous is None:
            log.warning(
                "dashboards_setup_failed",
                namespace=namespace,
                error=f"{type(exc).__name__}: {exc}"[:500],
                retry_in=delay,
                dashboards=self._dashboards.url,
            )
        jittered = delay * (0.5 + random.random() / 2)
        heapq.heappush(self._due, (self._clock() + jittered, namespace))
