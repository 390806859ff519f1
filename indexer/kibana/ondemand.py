"""Kibana objects on demand: each namespace's data view (and space and role) made in the
background as the indexer prepares the namespace's first index.

The worker, its contract (`submit` never blocks and does no I/O; one daemon thread; failures
retried with capped, jittered backoff from `kibana.retry_initial_seconds` up to
`kibana.retry_max_seconds`, logged once per failure streak as `kibana_setup_failed` and counted
in `indexer_kibana_setup_total{result="error"}`) is indexer/saved_objects/ondemand.py. Nothing
here can dead-letter, delay or stall a document: a Kibana that is down only means views come
later. The global data views (all tenants, dead letters, unmatched) go with the first
namespace's setup that succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from indexer import metrics
from indexer.kibana.client import KibanaClient
from indexer.kibana.objects import desired, read_sources
from indexer.kibana.setup import apply
from indexer.saved_objects.files import Source
from indexer.saved_objects.ondemand import OnDemandProvisioner
from indexer.saved_objects.report import Report
from indexer.settings import Settings


class KibanaProvisioner(OnDemandProvisioner):
    """The shared worker, making Kibana objects: `submit` from any thread, `start` once."""

    THREAD = "kibana-setup"
    DONE_EVENT = "kibana_setup"
    FAILED_EVENT = "kibana_setup_failed"
    URL_KEY = "kibana"
    COUNTER = metrics.KIBANA_SETUP

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings.kibana, stop, clock=clock)
        self._settings = settings.kibana
        self._prefix = settings.routing.index_prefix
        self._client: KibanaClient | None = None  # made in the worker: a bad CA fails there
        self._sources: list[Source] | None = None

    def _setup(self, namespace: str, *, include_global: bool) -> Report:
        if self._sources is None:
            self._sources = read_sources(self._settings.objects_dir)
        if self._client is None:
            self._client = KibanaClient(self._settings)
        wanted = desired(
            self._sources,
            self._prefix,
            [namespace],
            space_per_namespace=self._settings.space_per_namespace,
            include_global=include_global,
        )
        return apply(self._client, wanted)
