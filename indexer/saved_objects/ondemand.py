"""The on-demand worker both products use: each namespace's objects made in the background as
the indexer prepares the namespace's first index. A product (indexer/kibana/ondemand.py,
indexer/dashboards/ondemand.py) says only what one attempt does (`_setup`) and how it is named
in threads, logs and metrics.

Contract: `submit(namespace)` never blocks, does no I/O and is cheap enough to call for every
new index name (the preparer calls it once per index it prepares, never per event). One daemon
thread does the requests, once per namespace per process; a failed setup is retried with
capped, jittered exponential backoff (`<section>.retry_initial_seconds` up to
`<section>.retry_max_seconds`), logged once per namespace per failure streak
(`FAILED_EVENT`), and counted in the product's `COUNTER` with `result="error"`; a setup that
succeeds is counted with its report's result and logged as `DONE_EVENT`. Nothing here can
dead-letter, delay or stall a document: the writers never wait for it, and a server that is
down only means objects come later. The global objects go with the first namespace's setup
that succeeds (`include_global` is True until then).
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Protocol

import structlog
from prometheus_client import Counter

from indexer.saved_objects.report import Report

log = structlog.get_logger(__name__)


class RetrySettings(Protocol):
    """What the worker reads of the product's settings section."""

    @property
    def url(self) -> str | None: ...
    @property
    def retry_initial_seconds(self) -> float: ...
    @property
    def retry_max_seconds(self) -> float: ...


class OnDemandProvisioner(ABC):
    """The worker of the module doc: `submit` from any thread, `start` once.

    A product names, as class attributes, its thread, its two log events, the log key holding
    its URL, and its counter (`result` label)."""

    THREAD: ClassVar[str]  # e.g. kibana-setup
    DONE_EVENT: ClassVar[str]  # e.g. kibana_setup
    FAILED_EVENT: ClassVar[str]  # e.g. kibana_setup_failed
    URL_KEY: ClassVar[str]  # e.g. kibana
    COUNTER: ClassVar[Counter]  # e.g. indexer_kibana_setup_total

    def __init__(
        self,
        section: RetrySettings,
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._section = section
        self._stop = stop
        self._clock = clock
        self._globals_done = False
        self._seen: set[str] = set()
        self._todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._due: list[tuple[float, str]] = []
        self._failing: dict[str, float] = {}  # namespace -> the backoff it is waiting

    @abstractmethod
    def _setup(self, namespace: str, *, include_global: bool) -> Report:
        """Make this namespace's objects (and, with `include_global`, the global ones), in the
        worker thread. Any exception counts as a failure and is retried."""

    def submit(self, namespace: str) -> None:
        if namespace not in self._seen:
            self._seen.add(namespace)
            self._todo.put(namespace)

    def start(self) -> OnDemandProvisioner:
        threading.Thread(target=self._run, name=self.THREAD, daemon=True).start()
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
            report = self._setup(namespace, include_global=not self._globals_done)
        except Exception as exc:  # server down, refusing, or bad files: all retried the same way
            self._failed(namespace, exc)
            return
        self._globals_done = True
        self.COUNTER.labels(report.result).inc()
        recovered = self._failing.pop(namespace, None) is not None
        log.info(
            self.DONE_EVENT,
            namespace=namespace,
            result=report.result,
            recovered=recovered,
            objects=[line for line in report.lines() if " unchanged" not in line],
        )

    def _failed(self, namespace: str, exc: Exception) -> None:
        self.COUNTER.labels("error").inc()
        previous = self._failing.get(namespace)
        delay = (
            self._section.retry_initial_seconds
            if previous is None
            else min(previous * 2, self._section.retry_max_seconds)
        )
        self._failing[namespace] = delay
        if previous is None:
            log.warning(
                self.FAILED_EVENT,
                namespace=namespace,
                error=f"{type(exc).__name__}: {exc}"[:500],
                retry_in=delay,
                **{self.URL_KEY: self._section.url},
            )
        jittered = delay * (0.5 + random.random() / 2)
        heapq.heappush(self._due, (self._clock() + jittered, namespace))
