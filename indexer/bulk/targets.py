"""Index targets: the index each line is written to, prepared before the write and again on 404.

`IndexTargets.prepare` and `recreate` block while `IndexEnsurer.ensure` creates an index, retried
inside the writer's backoff (`prepare` as often as it is told, `recreate` once per round); they
raise only `Abandoned` (told to stop). Everything else an index answers is an outcome for its own
documents, never a failure of the batch: refused (`IndexRejected`, or an answer nobody foresaw) its
documents are dead letters; not ready for now (`IndexNotReady`: a create-index block, the shard
budget) they are parked. An index granted under another name (the shard budget's shared index) has
its lines rewritten in place, in the batch the caller passed: a caller may assume every line it
sends afterwards points at an index that was prepared.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from indexer.batch import Batch
from indexer.bulk.result import BulkResult, Rejection
from indexer.encode import action_index, pointed_at
from indexer.indices import IndexEnsurer, IndexNotReady, IndexRejected
from indexer.retry import Abandoned, Backoff

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NotReady:
    """An index that could not be re-created for now, with the condition it answered."""

    reason: str


Recreated = dict[str, str | Rejection | NotReady]
"""What re-creating each index gave in one round: the index granted, a refusal, or not ready."""


class IndexTargets:
    """Prepares the indices a batch writes to; safe to call from several threads at once."""

    def __init__(self, indices: IndexEnsurer, backoff: Backoff) -> None:
        self._indices = indices
        self._backoff = backoff

    def prepare(
        self, batch: Batch, indices: Iterable[str], park_after: int = 0
    ) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
        """Prepare `indices` (of the batch); point their lines at the index actually granted (the
        shard budget may send an app to its namespace's shared index).

        Returns the refusals, (error type, reason) by index: an index the cluster refuses (or
        its namespace template) is an outcome for its own documents, never a failure of the
        batch; and, with `park_after`, the indices still not ready after that many attempts
        (IndexNotReady: a block, the shard budget), with the condition, for parking. Other
        transient refusals are retried inside `ensure`'s backoff."""
        refused: dict[str, tuple[str, str]] = {}
        waiting: dict[str, str] = {}
        granted: dict[str, str] = {}
        for index in indices:
            try:
                target = self._backoff.call(
                    "prepare index",
                    self._indices.ensure,
                    index,
                    give_up=(IndexNotReady,),
                    attempts=park_after,
                )
            except IndexNotReady as exc:
                log.warning("index_not_ready", index=index, reason=exc.reason, error=str(exc))
                waiting[index] = exc.reason
            except IndexRejected as exc:
                log.warning("index_rejected", index=index, error=exc.error_type, reason=exc.reason)
                refused[index] = (exc.error_type, exc.reason)
            except Abandoned:
                raise
            except Exception as exc:  # an answer nobody foresaw: its documents only, not all
                log.exception("index_preparation_failed", index=index)
                refused[index] = ("index_preparation_failed", f"{type(exc).__name__}: {exc}")
            else:
                if target != index:
                    granted[index] = target
        if granted:
            _retarget(batch, granted)
        return refused, waiting

    def prepare_parked(
        self, batch: Batch, positions: list[int], result: BulkResult
    ) -> tuple[list[int], list[Rejection]]:
        """Prepare, once, the indices of the parked `positions` that were parked before their
        index could be had (`batch.unprepared`). Returns the positions to send and the refusals;
        the ones whose index is still not ready go back to `result.parked`."""
        unprepared = [p for p in positions if p in batch.unprepared]
        rejections: list[Rejection] = []
        if not unprepared:
            return positions, rejections
        refused, waiting = self.prepare(batch, {index_of(batch, p) for p in unprepared}, 1)
        for p in unprepared:
            index = index_of(batch, p)
            if index in waiting:
                result.parked[p] = waiting[index]
            elif index in refused:
                rejections.append(Rejection(p, *refused[index], index))
            if index not in waiting:
                batch.unprepared.discard(p)
        positions = [
            p for p in positions if p not in result.parked and index_of(batch, p) not in refused
        ]
        return positions, rejections

    def recreate(
        self, lines: list[bytes], position: int, recreated: Recreated
    ) -> Rejection | str | None:
        """The index of `lines[position]` is gone: prepare it again (once per round, in
        `recreated`) and point the line at the index granted, which may be another one (the
        shard budget's shared index).

        Returns the refusal when the cluster refuses the index (then the document is a dead
        letter, like any document of a refused index); the condition (`IndexNotReady.reason`)
        when the index cannot be had for now (a create-index block, the shard budget): one
        attempt per round, so the item is retried with the round and parked after the writer's
        rounds like a red index's, never retried for ever here while every tenant waits."""
        index = action_index(lines[position])
        if index not in recreated:
            self._indices.forget(index)
            try:
                recreated[index] = self._backoff.call(
                    "re-create index",
                    self._indices.ensure,
                    index,
                    give_up=(IndexNotReady,),
                    attempts=1,
                )
            except IndexNotReady as exc:
                log.warning("index_not_ready", index=index, reason=exc.reason, error=str(exc))
                recreated[index] = NotReady(exc.reason)
            except IndexRejected as exc:
                log.warning("index_rejected", index=index, error=exc.error_type, reason=exc.reason)
                recreated[index] = Rejection(position, exc.error_type, exc.reason, index)
        target = recreated[index]
        if isinstance(target, NotReady):
            return target.reason
        if isinstance(target, Rejection):
            return Rejection(position, target.error_type, target.reason, index)
        if target != index:
            lines[position] = pointed_at(lines[position], index, target)
        return None


def park_waiting(
    batch: Batch, positions: list[int], waiting: dict[str, str], result: BulkResult
) -> list[int]:
    """Park the `positions` whose index cannot be had for now (`waiting`, from `prepare`), like a
    red index's items, marked to be prepared first when retried; return the others."""
    if not waiting:
        return positions
    result.parked.update(
        {i: waiting[index] for i in positions if (index := index_of(batch, i)) in waiting}
    )
    batch.unprepared.update(result.parked)
    return [i for i in positions if i not in result.parked]


def split_refused(
    batch: Batch, positions: list[int], refused: dict[str, tuple[str, str]]
) -> tuple[list[int], list[Rejection]]:
    """The `positions` whose index was not refused (`refused`, from `prepare`), and the
    rejections of the others: nothing about those documents themselves to salvage."""
    if not refused:
        return positions, []
    rejections = [
        Rejection(i, *refused[index], index)
        for i in positions
        if (index := index_of(batch, i)) in refused
    ]
    return [i for i in positions if index_of(batch, i) not in refused], rejections


def index_of(batch: Batch, position: int) -> str:
    return action_index(batch.lines[position])


def _retarget(batch: Batch, granted: dict[str, str]) -> None:
    for position, line in enumerate(batch.lines):
        index = action_index(line)
        if index in granted:
            batch.lines[position] = pointed_at(line, index, granted[index])
    counts: dict[str, int] = {}
    for index, documents in batch.indices.items():
        target = granted.get(index, index)
        counts[target] = counts.get(target, 0) + documents
    batch.indices = counts
