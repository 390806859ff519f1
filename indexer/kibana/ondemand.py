"""Kibana objects on demand: each namespace's data view (and space and role) made in the
background as the indexer prepares the namespace's first index.

Contract: `submit(namespace)` never blocks, does no I/O and is cheap enough to call for every
new index name (the preparer calls it once per index it prepares, never per event). One daemon
thread does the Kibana requests, once per namespace per process; a failed setup is retried
with capped, jittered exponential backoff (`kibana.retry_initial_seconds` up to
`kibana.retry_max_seconds`), logged once per namespace per failure streak, and counted in
`indexer_kibana_setup_total{result="error"}`. Nothing here can dead-letter, delay or stall a
document: the writers never wait for it, and a Kibana that is down only means views come later.
The global data views (all tenants, dead letters, unmatched) go with the first namespace's
setup that succeeds.
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import random
import threading
import time
from collections.abc import Callable

import structlog

from indexer import metrics
from indexer.kibana.client import KibanaClient
from indexer.kibana.objects import Source, desired, read_sources
from indexer.kibana.setup import apply
from indexer.settings import Settings

log = structlog.get_logger(__name__)


class KibanaProvisioner:
    """The worker of the module doc: `submit` from any thread, `start` once."""

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings.kibana
        self._prefix = settings.routing.index_prefix
        self._stop = stop
        self._clock = clock
        self._client: KibanaClient | None = None  # made in the worker: a bad CA fails there
        self._sources: list[Source] | None = None
        self._globals_done = False
        self._seen: set[str] = set()
        self._todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._due: list[tuple[float, str]] = []
        self._failing: dict[str, float] = {}  # namespace -> the backoff it is waiting

    def submit(self, namespace: str) -> None:
        if namespace not in self._seen:
            self._seen.add(namespace)
            self._todo.put(namespace)

    def start(self) -> KibanaProvisioner:
        threading.Thread(target=self._run, name="kibana-setup", daemon=True).start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 0.5
            if self._due:
                wait = min(wait, max(0.0, self._due[0][0] - self._clock()))
            with contextlib.suppress(queue.Empty):
                heapq.heappush(self._due, (self._clock(), self._todo.get(timeout=wait)))
            while self._due and self._due[0][0] <= self._clock() and not self._stop.is_set():
                _, namespace = heapq.heappop(self._due)
                self._attempt(namespace)

    def _attempt(self, namespace: str) -> None:
        try:
            if self._sources is None:
                self._sources = read_sources(self._settings.objects_dir)
            if self._client is None:
                self._client = KibanaClient(self._settings)
            wanted = desired(
                self._sources,
                self._prefix,
                [namespace],
                space_per_namespace=self._settings.space_per_namespace,
                include_global=not self._globals_done,
            )
            report = apply(self._client, wanted)
        except Exception as exc:  # Kibana down, refusing, or bad files: all retried the same way
            self._failed(namespace, exc)
            return
        self._globals_done = True
        metrics.KIBANA_SETUP.labels(report.result).inc()
        recovered = self._failing.pop(namespace, None) is not None
        log.info(
            "kibana_setup",
            namespace=namespace,
            result=report.result,
            recovered=recovered,
            objects=[line for line in report.lines() if " unchanged" not in line],
        )

    def _failed(self, namespace: str, exc: Exception) -> None:
        metrics.KIBANA_SETUP.labels("error").inc()
        previous = self._failing.get(namespace)
        delay = (
            self._settings.retry_initial_seconds
            if previous is None
            else min(previous * 2, self._settings.retry_max_seconds)
        )
        self._failing[namespace] = delay
        if previous is None:
            log.warning(
                "kibana_setup_failed",
                namespace=namespace,
                error=f"{type(exc).__name__}: {exc}"[:500],
                retry_in=delay,
                kibana=self._settings.url,
            )
        jittered = delay * (0.5 + random.random() / 2)
        heapq.heappush(self._due, (self._clock() + jittered, namespace))
