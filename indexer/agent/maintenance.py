"""Scheduled rotation, then pruning, one run at a time; compression in the background.

At start a slot missed while the agent was down runs once; on the very first start (no state)
the current slot is taken as done, so installing the agent rotates nothing at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog

from indexer.agent import metrics, skips, state
from indexer.agent.compress import Compressor
from indexer.agent.prune import prune
from indexer.agent.rotate import RunReport, run_rotation
from indexer.agent.schedule import Schedule
from indexer.agent.settings import AgentSettings
from indexer.agent.shipped import Shipped

log = structlog.get_logger()


class Maintenance:
    """Owns the rotation schedule; `tick()` from the main loop starts a due run in a thread."""

    def __init__(self, settings: AgentSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self.schedule = Schedule(settings.rotate.schedule, settings.rotate.timezone)
        self.compressor = Compressor()
        self._thread: threading.Thread | None = None
        saved = state.load(settings.state_dir)
        if saved.last_slot is None:
            saved.last_slot = self.schedule.latest_slot(clock())
            state.save(settings.state_dir, saved)
        self.last_slot: float = saved.last_slot
        metrics.ROTATION_LAST_SLOT.set(saved.last_slot)

    def due(self) -> float | None:
        """The slot that should run now, if any."""
        now = self._clock()
        metrics.ROTATION_DUE_SLOT.set(self.schedule.latest_slot(now))
        return self.schedule.due(self.last_slot, now)

    def tick(self) -> bool:
        """Start the due run in the background unless one is still going; True if started."""
        if self._thread is not None and self._thread.is_alive():
            return False
        slot = self.due()
        if slot is None:
            return False
        self._thread = threading.Thread(
            target=self._guarded, args=(slot,), name="agent-rotate", daemon=True
        )
        self._thread.start()
        return True

    def wait(self) -> None:
        """Wait for the current run and every compression it queued."""
        if self._thread is not None:
            self._thread.join()
        self.compressor.drain()

    def close(self) -> None:
        self.wait()
        self.compressor.close()

    def run(self, slot: float | None, *, force: bool = False) -> RunReport | None:
        """Rotate, queue compressions and prune, under the cross-process lock.

        With a slot, nothing happens if that slot already ran (here or in another process);
        `slot=None` is `rotate --now`: it runs whatever the schedule says and leaves it as is.
        `force` rotates every non-empty file, whatever its size and age.
        """
        settings = self._settings
        started = time.monotonic()
        with state.exclusive(settings.state_dir):
            saved = state.load(settings.state_dir)
            if slot is not None and saved.last_slot is not None and slot <= saved.last_slot:
                self.last_slot = saved.last_slot  # another process (`rotate`) ran it
                metrics.ROTATION_LAST_SLOT.set(saved.last_slot)
                return None
            rules = settings.rotate
            if force:
                rules = rules.model_copy(update={"max_size_bytes": None, "max_age_seconds": None})
            shipped = Shipped(settings)  # one registry snapshot for the whole run
            # Rotation and pruning isolate their files and pods themselves; this only keeps a
            # failure of one whole step (a bug, the logs root unreadable) from stopping the other
            # step and the slot from advancing.
            report = RunReport()
            try:
                report = run_rotation(settings.logs_root, rules, saved, self._clock, slot, shipped)
            except Exception as exc:
                skips.skipped("rotate", skips.kind_of(exc), settings.logs_root, exc)
            for path in report.compress:
                self.compressor.submit(path)
            if settings.prune.enabled:
                retention = settings.prune.retention_seconds
                try:
                    prune(settings.logs_root, retention, self._clock(), shipped)
                except Exception as exc:
                    skips.skipped("prune", skips.kind_of(exc), settings.logs_root, exc)
            if slot is not None:
                saved.last_slot = self.last_slot = slot
            state.save(settings.state_dir, saved)
            if saved.last_slot is not None:
                metrics.ROTATION_LAST_SLOT.set(saved.last_slot)
        metrics.ROTATION_RUN_SECONDS.observe(time.monotonic() - started)
        log.info("agent.rotation_run", slot=slot, rotated=len(report.rotated))
        return report

    def _guarded(self, slot: float) -> None:
        try:
            self.run(slot)
        except Exception as exc:
            # Not retried at every tick (that would log once a second): the next slot runs,
            # or the next start, since the saved slot did not advance.
            self.last_slot = max(self.last_slot, slot)
            metrics.ERRORS.labels("rotation_run", skips.kind_of(exc)).inc()
            log.error("agent.rotation_run_failed", slot=slot, error=str(exc))
