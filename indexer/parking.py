"""Parking: documents whose index keeps refusing them for now, set aside off the writers' path.

A writer parks the items of a batch still answered 429/5xx after `retry.park_after_attempts`
rounds (a red index's `unavailable_shards_exception`, a flood-stage block); the batch is then
finished for its writer, which takes the next one, and *held* in the offset tracker at each
partition's lowest parked offset. One background thread retries the parked documents, index by
index, each index with its own exponential backoff, so a red index costs one small request per
backoff and nothing else. A parked document still failing after `retry.park_max_seconds` is
dead-lettered as `retry_exhausted`. When every parked document of a batch has its outcome, the
batch comes back on `released` with the outcomes of its parked documents: the poll loop counts
them and lifts the hold.

Contract: `park` and `bytes` may be called from any thread; `released` is read by the poll loop
alone. An exception of the writer (`DeadLetterRejected`) comes back on `released` as the error
of its batch; `Abandoned` (the writer's stop) ends the thread.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from indexer import metrics
from indexer.batch import Batch
from indexer.bulk import BulkResult, BulkWriter, action_index
from indexer.retry import Abandoned
from indexer.settings import RetrySettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Released:
    batch: Batch
    result: BulkResult | None
    """The outcomes of the batch's parked documents; None when writing them raised `error`."""
    error: BaseException | None = None


@dataclass
class _Group:
    """The parked documents of one batch for one index."""

    batch: Batch
    index: str
    reasons: dict[int, str]
    since: float
    bytes: int


@dataclass
class _Lot:
    """One index's parked groups and its backoff."""

    groups: list[_Group] = field(default_factory=list)
    wait: float = 0.0
    next_try: float = 0.0


class Parking:
    def __init__(
        self,
        writer: BulkWriter,
        settings: RetrySettings,
        stop: threading.Event,
        clock: Callable[[], float],
    ) -> None:
        self._writer = writer
        self._settings = settings
        self._stop = stop
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._lots: dict[str, _Lot] = {}
        self._open: dict[int, tuple[int, BulkResult]] = {}
        """Per batch seq: its groups not yet settled, and the outcomes of those settled."""
        self._bytes = 0
        self.released: queue.SimpleQueue[Released] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="parking", daemon=True).start()

    @property
    def bytes(self) -> int:
        return self._bytes

    def park(self, batch: Batch, parked: dict[int, str]) -> dict[tuple[str, int], int]:
        """Set aside the `parked` positions of `batch` (with the error type each answered);
        return, per partition, the lowest parked offset (what the batch is held at)."""
        by_index: dict[str, dict[int, str]] = {}
        held: dict[tuple[str, int], int] = {}
        for position, reason in parked.items():
            by_index.setdefault(action_index(batch.lines[position]), {})[position] = reason
            message = batch.messages[position]
            tp = (message.topic(), message.partition())
            held[tp] = min(held.get(tp, message.offset()), message.offset())
        now = self._clock()
        with self._lock:
            self._open[batch.seq] = (len(by_index), BulkResult(documents=len(parked)))
            for index, reasons in by_index.items():
                size = sum(len(batch.lines[p]) for p in reasons)
                lot = self._lots.setdefault(index, _Lot())
                if not lot.groups:
                    lot.wait = self._settings.initial_backoff_seconds
                    lot.next_try = now + lot.wait
                lot.groups.append(_Group(batch, index, reasons, now, size))
                self._bytes += size
                log.warning("documents_parked", index=index, documents=len(reasons))
            self._publish()
        return held

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                due = self._due()
                if due is None:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self._retry(*due)
        except Abandoned:
            return

    def _due(self) -> tuple[str, _Lot] | None:
        now = self._clock()
        with self._lock:
            for index, lot in self._lots.items():
                if lot.groups and lot.next_try <= now:
                    return index, lot
        return None

    def _retry(self, index: str, lot: _Lot) -> None:
        """Try every parked group of one index once; back the index off while it still fails."""
        still_failing = False
        expire_after = self._settings.park_max_seconds
        for group in list(lot.groups):
            positions = list(group.reasons)
            try:
                if expire_after and self._clock() - group.since >= expire_after:
                    result = self._writer.expire(group.batch, positions, group.reasons)
                else:
                    result = self._writer.retry_parked(group.batch, positions)
            except Abandoned:
                raise
            except Exception as exc:
                self._settle(lot, group, None, exc)
                continue
            still_failing = still_failing or bool(result.parked)
            self._settle(lot, group, result, None)
        with self._lock:
            if still_failing:
                lot.wait = min(lot.wait * 2, self._settings.max_backoff_seconds)
            else:
                lot.wait = self._settings.initial_backoff_seconds
            lot.next_try = self._clock() + random.uniform(lot.wait / 2, lot.wait)
            if not lot.groups:
                del self._lots[index]
            self._publish()

    def _settle(
        self,
        lot: _Lot,
        group: _Group,
        result: BulkResult | None,
        error: BaseException | None,
    ) -> None:
        """Add the outcomes one try gave; once a group has no parked document left, and its
        batch no group, release the batch."""
        seq = group.batch.seq
        with self._lock:
            if seq not in self._open:  # another group of its batch failed: it was released
                self._drop(lot, group)
                return
            remaining, total = self._open[seq]
            if result is None:
                self._drop(lot, group)
                del self._open[seq]
                self.released.put(Released(group.batch, None, error))
                return
            _add(total, result)
            if result.parked:
                group.reasons = result.parked
                size = sum(len(group.batch.lines[p]) for p in group.reasons)
                self._bytes -= group.bytes - size
                group.bytes = size
                return
            self._drop(lot, group)
            if remaining > 1:
                self._open[seq] = (remaining - 1, total)
                return
            del self._open[seq]
        total.check()
        self.released.put(Released(group.batch, total))

    def _drop(self, lot: _Lot, group: _Group) -> None:
        lot.groups.remove(group)
        self._bytes -= group.bytes

    def _publish(self) -> None:
        """The gauges, from the lots (under the lock)."""
        counts: dict[tuple[str, str], int] = {}
        for index, lot in self._lots.items():
            for group in lot.groups:
                for reason in group.reasons.values():
                    counts[(index, reason)] = counts.get((index, reason), 0) + 1
        for labels in _published - counts.keys():
            metrics.INDEX_PARKED_DOCUMENTS.remove(*labels)
        for labels, count in counts.items():
            metrics.INDEX_PARKED_DOCUMENTS.labels(*labels).set(count)
        _published.clear()
        _published.update(counts)
        metrics.PARKED_BYTES.set(self._bytes)


def _add(total: BulkResult, result: BulkResult) -> None:
    total.indexed += result.indexed
    total.duplicates += result.duplicates
    total.salvaged += result.salvaged
    total.requests += result.requests
    total.retried_items += result.retried_items
    for reason, count in result.deadlettered.items():
        total.deadlettered[reason] = total.deadlettered.get(reason, 0) + count


_published: set[tuple[str, str]] = set()
