"""OpenSearch Dashboards objects on demand: each namespace's index pattern (and tenant and
role) made in the background as the indexer prepares the namespace's first index.

The worker, its contract and its backoff are shared with Kibana's
(indexer/saved_objects/ondemand.py): `submit` never blocks and does no I/O, one daemon thread
does the requests once per namespace per process, failures are retried with capped, jittered
backoff (`dashboards.retry_*`), logged once per failure streak as `dashboards_setup_failed` and
counted in `indexer_dashboards_setup_total{result="error"}`. Only what one attempt does differs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from indexer import metrics
from indexer.cluster import SearchClient, client_for
from indexer.dashboards.client import DashboardsClient
from indexer.dashboards.objects import Desired, desired, read_sources
from indexer.dashboards.setup import apply
from indexer.saved_objects.files import Source
from indexer.saved_objects.ondemand import OnDemandProvisioner
from indexer.saved_objects.report import Report
from indexer.settings import Settings


class DashboardsProvisioner(OnDemandProvisioner):
    """The shared worker, making OpenSearch Dashboards objects."""

    THREAD = "dashboards-setup"
    DONE_EVENT = "dashboards_setup"
    FAILED_EVENT = "dashboards_setup_failed"
    URL_KEY = "dashboards"
    COUNTER = metrics.DASHBOARDS_SETUP

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings.dashboards, stop, clock=clock)
        self._prefix = settings.routing.index_prefix
        self._dashboards = settings.dashboards
        self._cluster_settings = settings.elasticsearch
        self._osd: DashboardsClient | None = None  # made in the worker: a bad CA fails there
        self._cluster: SearchClient | None = None  # only for tenants and roles
        self._sources: list[Source] | None = None

    def _setup(self, namespace: str, *, include_global: bool) -> Report:
        if self._sources is None:
            self._sources = read_sources(self._dashboards.objects_dir)
        if self._osd is None:
            self._osd = DashboardsClient(self._dashboards)
        wanted = desired(
            self._sources,
            self._prefix,
            [namespace],
            tenant_per_namespace=self._dashboards.tenant_per_namespace,
        )
        if not include_global:
            wanted = Desired(
                wanted.tenants,
                [p for p in wanted.index_patterns if p.id.endswith(f"-ns-{namespace}")],
                wanted.roles,
            )
        if (wanted.tenants or wanted.roles) and self._cluster is None:
            self._cluster = client_for(self._cluster_settings)
        return apply(self._osd, self._cluster, wanted)
