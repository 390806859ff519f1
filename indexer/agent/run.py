"""The agent's main loop: watch, settle, reconcile; periodic reconcile; scheduled maintenance."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import structlog

from indexer.agent import node_status, skips
from indexer.agent.maintenance import Maintenance
from indexer.agent.node_paths import NodePaths
from indexer.agent.reconcile import Outcome, Reconciler
from indexer.agent.scan import scan
from indexer.agent.settings import AgentSettings
from indexer.agent.watch import Change, Watcher

log = structlog.get_logger()

# However long the bursts, reconcile at the latest this many settle delays after the first event.
_MAX_SETTLES = 10
_MAX_WAIT_SECONDS = 1.0


class Agent:
    """One agent. Drive it with `run(stop)`, or turn by turn with `step()` (tests)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        watcher: Watcher | None = None,
        maintenance: Maintenance | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        beat: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.paths = NodePaths(settings)
        self.reconciler = Reconciler(settings, wall_clock)
        self.watcher = watcher or Watcher(settings.logs_root)
        self.maintenance = maintenance
        self._monotonic = monotonic
        self._beat = beat
        self._first_event: float | None = None
        self._last_event = 0.0
        self._next_periodic = 0.0
        self._next_status = 0.0
        self._wall_clock = wall_clock
        self.reconciles: Counter[str] = Counter()  # by trigger

    def reconcile(self, trigger: str) -> Outcome:
        """Scan the whole tree, refresh the watches, and bring the inputs in line."""
        tree = scan(self.settings.logs_root)
        self.watcher.sync(tree.namespaces)
        self._first_event = None
        self._next_periodic = self._monotonic() + self.settings.reconcile_interval_seconds
        self.reconciles[trigger] += 1
        return self.reconciler.reconcile(tree, trigger)

    def step(self) -> None:
        """One turn: wait for events (at most until the next deadline), then act on what is due."""
        self._beat()
        change = self.watcher.read(self._timeout())
        now = self._monotonic()
        if change is Change.RESYNC:
            self.reconcile("resync")
        elif change is Change.TREE:
            self._first_event = self._first_event if self._first_event is not None else now
            self._last_event = now
        if self._settled(now):
            self.reconcile("event")
        if now >= self._next_periodic:
            self.reconcile("periodic")
        if self.maintenance is not None:
            self.maintenance.tick()
        if now >= self._next_status:
            self._next_status = now + self.settings.status_interval_seconds
            self.measure()

    def measure(self) -> None:
        """Check the directories the agent depends on; measure what filebeat has not shipped
        and the logs volume, for /metrics."""
        self.paths.check()
        started = self._wall_clock()
        try:
            node_status.publish(node_status.measure(self.settings, started), started)
        except Exception as exc:  # the logs root itself unreadable: the gauges keep their values
            skips.skipped("status", skips.kind_of(exc), self.settings.logs_root, exc)

    def run(self, stop: threading.Event) -> None:
        """Turn until `stop` is set, then wait for a rotation in progress."""
        log.info("agent.started", logs_root=str(self.settings.logs_root))
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.watcher.close()
            if self.maintenance is not None:
                self.maintenance.close()
            log.info("agent.stopped")

    def _settled(self, now: float) -> bool:
        if self._first_event is None:
            return False
        settle = self.settings.settle_seconds
        return now - self._last_event >= settle or now - self._first_event >= settle * _MAX_SETTLES

    def _timeout(self) -> float:
        deadline = self._next_periodic
        if self._first_event is not None:
            deadline = min(deadline, self._last_event + self.settings.settle_seconds)
        return min(max(0.0, deadline - self._monotonic()), _MAX_WAIT_SECONDS)
