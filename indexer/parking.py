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

Memory: the lot keeps a *compact copy* of a batch, its parked lines and their messages only (the
seq and the per-partition highs the offset tracker needs), never the batch itself, and `bytes`
counts all that a parked document holds: its line, its message's value and key, and
`PARKED_DOCUMENT_OVERHEAD` for the objects around them. So the lot's memory is what
`retry.park_max_bytes` bounds, whatever share of the traffic a red index gets.

Rebalances: `forget` drops the parked documents of partitions this member no longer owns (their
new owner reads them again from the committed offset, which stayed below them): they neither
keep pausing the partitions it still owns nor are dead-lettered at expiry behind the new owner.

Contract: `park`, `forget`, `bytes` and `failure` may be called from any thread; `released` is
read by the poll loop alone. An exception of the writer (`DeadLetterRejected`) comes back on
`released` as the error of its batch; `Abandoned` (the writer's stop) ends the thread. Any other
exception in the thread is a bug of ours: it is logged and counted
(`indexer_parking_failures_total`), and the thread goes on after a second; `failure` names a
thread that ended anyway, and liveness fails on it.
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

PARKED_DOCUMENT_OVERHEAD = 512
"""Bytes a parked document holds beyond its line, value and key: the `Message` object (136 B in
confluent-kafka 2.x), its topic reference and timestamp, the list and dict slots that point at
it. Rounded up: the budget must not under-count."""


@dataclass(frozen=True)
class Released:
    batch: Batch
    result: BulkResult | None
    """The outcomes of the batch's parked documents; None when writing them raised `error`."""
    error: BaseException | None = None


@dataclass
class _Group:
    """The parked documents of one batch for one index; `batch` is the compact copy."""

    batch: Batch
    index: str
    reasons: dict[int, str]
    since: float
    bytes: int
    dropped: set[int] = field(default_factory=set)
    """Positions `forget` dropped while a retry of the group was in flight."""


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
        self._busy: _Group | None = None
        """The group a retry is in flight for (outside the lock)."""
        self.released: queue.SimpleQueue[Released] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="parking", daemon=True)
        self._thread.start()

    @property
    def bytes(self) -> int:
        return self._bytes

    def park(self, batch: Batch, parked: dict[int, str]) -> dict[tuple[str, int], int]:
        """Set aside the `parked` positions of `batch` (with the error type each answered);
        return, per partition, the lowest parked offset (what the batch is held at).

        The lot keeps a compact copy: `batch` itself may be dropped by the caller."""
        held: dict[tuple[str, int], int] = {}
        for position in parked:
            message = batch.messages[position]
            tp = (message.topic(), message.partition())
            held[tp] = min(held.get(tp, message.offset()), message.offset())
        compact, reasons = _compact(batch, parked)
        by_index: dict[str, dict[int, str]] = {}
        for position, reason in reasons.items():
            by_index.setdefault(action_index(compact.lines[position]), {})[position] = reason
        now = self._clock()
        with self._lock:
            self._open[compact.seq] = (len(by_index), BulkResult(documents=len(parked)))
            for index, group_reasons in by_index.items():
                size = sum(_cost(compact, p) for p in group_reasons)
                lot = self._lots.setdefault(index, _Lot())
                if not lot.groups:
                    lot.wait = self._settings.initial_backoff_seconds
                    lot.next_try = now + lot.wait
                lot.groups.append(_Group(compact, index, group_reasons, now, size))
                self._bytes += size
                log.warning("documents_parked", index=index, documents=len(group_reasons))
            self._publish()
        self._wake.set()
        return held

    def forget(self, partitions: set[tuple[str, int]]) -> int:
        """Drop the parked documents of `partitions` (revoked or lost: no longer ours); returns
        how many. A batch left with nothing parked is released with the outcomes it had."""
        released: list[Released] = []
        dropped = 0
        with self._lock:
            for index, lot in list(self._lots.items()):
                for group in list(lot.groups):
                    gone = [p for p in group.reasons if _partition_of(group.batch, p) in partitions]
                    if not gone:
                        continue
                    dropped += len(gone)
                    for p in gone:
                        del group.reasons[p]
                    size = sum(_cost(group.batch, p) for p in group.reasons)
                    self._bytes -= group.bytes - size
                    group.bytes = size
                    if group is self._busy:
                        group.dropped.update(gone)  # `_settle` accounts for them
                        continue
                    seq = group.batch.seq
                    opened = self._open.get(seq)
                    if opened is not None:
                        opened[1].documents -= len(gone)
                    if group.reasons:
                        continue
                    lot.groups.remove(group)
                    if opened is not None:
                        remaining, total = opened
                        if remaining > 1:
                            self._open[seq] = (remaining - 1, total)
                        else:
                            del self._open[seq]
                            released.append(Released(group.batch, total))
                if not lot.groups:
                    del self._lots[index]
            self._publish()
        for item in released:
            self.released.put(item)
        if dropped:
            log.info("parked_documents_dropped", documents=dropped, reason="partitions_revoked")
        return dropped

    def failure(self) -> str | None:
        """Why the parking thread no longer runs, when it ended without being stopped."""
        if self._thread.is_alive() or self._stop.is_set():
            return None
        return "the parking thread has stopped: parked documents are no longer retried"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                due = self._due()
                if due is None:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self._retry(*due)
            except Abandoned:
                return
            except Exception:
                # Not the cluster's doing (the writer's answers are outcomes or retried): a bug of
                # ours. Loud, counted, and survived: parked documents must be retried again.
                log.exception("parking_failed")
                metrics.PARKING_FAILURES.inc()
                self._stop.wait(1.0)

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
            with self._lock:
                if group not in lot.groups or not group.reasons:
                    continue  # forgotten meanwhile
                positions = list(group.reasons)
                reasons = dict(group.reasons)
                self._busy = group
            try:
                if expire_after and self._clock() - group.since >= expire_after:
                    result = self._writer.expire(group.batch, positions, reasons)
                else:
                    result = self._writer.retry_parked(group.batch, positions)
            except Abandoned:
                with self._lock:
                    self._busy = None
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
            if not lot.groups and self._lots.get(index) is lot:
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
            self._busy = None  # under the same lock as the outcomes: `forget` sees one or other
            if seq not in self._open:  # another group of its batch failed: it was released
                self._drop(lot, group)
                return
            remaining, total = self._open[seq]
            if result is None:
                self._drop(lot, group)
                del self._open[seq]
                self.released.put(Released(group.batch, None, error))
                return
            if group.dropped:  # forgotten during the try: those still parked are not ours
                still = [p for p in result.parked if p in group.dropped]
                total.documents -= len(still)
                result.documents -= len(still)
                for p in still:
                    del result.parked[p]
                group.dropped.clear()
            _add(total, result)
            if result.parked:
                group.reasons = result.parked
                size = sum(_cost(group.batch, p) for p in group.reasons)
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
        if group in lot.groups:
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


def _compact(batch: Batch, parked: dict[int, str]) -> tuple[Batch, dict[int, str]]:
    """A batch of the parked documents alone, under the batch's seq and highs (what the offset
    tracker releases it by), and the reasons by their new positions."""
    positions = sorted(parked)
    compact = Batch(
        created=batch.created,
        generation=batch.generation,
        seq=batch.seq,
        lines=[batch.lines[p] for p in positions],
        messages=[batch.messages[p] for p in positions],
        high=dict(batch.high),
    )
    for new, old in enumerate(positions):
        if old in batch.deadletters:
            compact.deadletters[new] = batch.deadletters[old]
        if old in batch.unprepared:
            compact.unprepared.add(new)
        index = action_index(compact.lines[new])
        compact.indices[index] = compact.indices.get(index, 0) + 1
    compact.size = sum(map(len, compact.lines))
    return compact, {new: parked[old] for new, old in enumerate(positions)}


def _cost(batch: Batch, position: int) -> int:
    """What one parked document holds: its line, its message's value and key, the objects."""
    message = batch.messages[position]
    value = message.value()
    key = message.key()
    return (
        len(batch.lines[position])
        + (len(value) if value else 0)
        + (len(key) if key else 0)
        + PARKED_DOCUMENT_OVERHEAD
    )


def _partition_of(batch: Batch, position: int) -> tuple[str, int]:
    message = batch.messages[position]
    return message.topic(), message.partition()


def _add(total: BulkResult, result: BulkResult) -> None:
    total.indexed += result.indexed
    total.duplicates += result.duplicates
    total.salvaged += result.salvaged
    total.requests += result.requests
    total.retried_items += result.retried_items
    for reason, count in result.deadlettered.items():
        total.deadlettered[reason] = total.deadlettered.get(reason, 0) + count


_published: set[tuple[str, str]] = set()
