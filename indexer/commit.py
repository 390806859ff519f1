"""Commit: which offsets may be committed, given batches that finish in any order.

An offset is committable only when every message at or before it, in its partition, has an
outcome (indexed, duplicate or dead-lettered). Batches are registered in the order they are
sealed; a partition's committable offset advances over the longest prefix of finished batches.

Assignments are numbered: each `assign` starts a new generation, and a batch carries the
generation it was opened in. A partition takes offsets only from batches opened while its current
assignment was already running. A batch that still holds messages of an earlier assignment of
the partition (revoked or lost meanwhile, then assigned again from the last commit) can therefore
never move the new assignment's offset past messages the new assignment has not written yet.

A batch can finish for its writer while some of its documents are parked (their index keeps
failing, `indexer.parking`): it is then finished but *held* at each partition's lowest parked
offset. A partition's committable offset stops there (the messages below it commit, the parked
one and everything after it in that partition wait) until `release` says the parked documents have
their outcome. Other partitions of the batch are not held back.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field

from indexer.batch import Batch

TopicPartition = tuple[str, int]

_UNASSIGNED = sys.maxsize  # later than any generation: no batch is accepted


@dataclass
class _Pending:
    seq: int
    next_offset: int
    done: bool = False
    held: int | None = None
    """The lowest offset of this batch still parked in the partition; None when nothing is."""


@dataclass
class OffsetTracker:
    """Tracks sealed, unfinished batches per partition. Used by the poll loop only.

    Partitions never passed to `assign` or `forget` accept every batch (for callers without a
    consumer group).
    """

    generation: int = 0
    """The generation of the newest assignment."""
    _pending: dict[TopicPartition, deque[_Pending]] = field(default_factory=dict)
    _since: dict[TopicPartition, int] = field(default_factory=dict)
    """The generation in which each partition's current assignment began."""

    def assign(self, partitions: list[TopicPartition]) -> int:
        """Start a new assignment of `partitions`; return its generation, which every batch
        opened from now on must carry (`Batcher.start_generation`)."""
        self.generation += 1
        for tp in partitions:
            self._pending.pop(tp, None)
            self._since[tp] = self.generation
        return self.generation

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Drop revoked or lost partitions: finishing their batches later moves nothing, and no
        batch is registered for them until they are assigned again."""
        for tp in partitions:
            self._pending.pop(tp, None)
            self._since[tp] = _UNASSIGNED

    def register(self, batch: Batch) -> None:
        """Record a sealed batch; call in seal order, before it can finish. Its messages of a
        partition whose current assignment began after the batch was opened are not tracked:
        they belong to an assignment that is over."""
        for tp, high in batch.high.items():
            if self._since.get(tp, 0) > batch.generation:
                continue
            self._pending.setdefault(tp, deque()).append(_Pending(batch.seq, high + 1))

    def finish(
        self, batch: Batch, held: dict[TopicPartition, int] | None = None
    ) -> dict[TopicPartition, int]:
        """Mark a batch finished; return the partitions whose committable offset moved, and where to.

        `held` gives, per partition, the lowest offset of the batch whose document is parked:
        commits of that partition stop there until `release(batch)`. Partitions forgotten or
        assigned again since the batch was registered are ignored.
        """
        held = held or {}
        moved: dict[TopicPartition, int] = {}
        for tp in batch.high:
            entry = self._entry(tp, batch)
            if entry is not None:
                entry.done = True
                entry.held = held.get(tp)
                self._advance(tp, entry, moved)
        return moved

    def release(self, batch: Batch) -> dict[TopicPartition, int]:
        """The parked documents of a finished batch have their outcome: lift its holds; return
        the partitions whose committable offset moved, and where to."""
        moved: dict[TopicPartition, int] = {}
        for tp in batch.high:
            entry = self._entry(tp, batch)
            if entry is not None and entry.held is not None:
                entry.held = None
                self._advance(tp, entry, moved)
        return moved

    def _entry(self, tp: TopicPartition, batch: Batch) -> _Pending | None:
        for entry in self._pending.get(tp, ()):
            if entry.seq == batch.seq:
                return entry
        return None

    def _advance(
        self, tp: TopicPartition, changed: _Pending, moved: dict[TopicPartition, int]
    ) -> None:
        queue = self._pending[tp]
        while queue and queue[0].done:
            head = queue[0]
            if head.held is not None:  # commit below the parked message, not past it
                if head is changed or tp in moved:  # else it was reported already
                    moved[tp] = head.held
                return
            moved[tp] = queue.popleft().next_offset

    def unfinished(self, partitions: list[TopicPartition] | None = None) -> int:
        """Batches not yet finished, in all partitions or in the ones given. A held batch is
        finished: its parked documents are not waited for (their partition commits below them,
        and whoever reads the partition next writes them again under the same ids)."""
        keys = self._pending.keys() if partitions is None else partitions
        return sum(not entry.done for tp in keys for entry in self._pending.get(tp, ()))
