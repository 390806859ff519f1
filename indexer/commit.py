"""Commit: which offsets may be committed, given batches that finish in any order.

An offset is committable only when every message at or before it, in its partition, has an
outcome (indexed, duplicate or dead-lettered). Batches are registered in the order they are
sealed; a partition's committable offset advances over the longest prefix of finished batches.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from indexer.batch import Batch

TopicPartition = tuple[str, int]


@dataclass
class _Pending:
    seq: int
    next_offset: int
    done: bool = False


@dataclass
class OffsetTracker:
    """Tracks sealed, unfinished batches per partition. Used by the poll loop only."""

    _pending: dict[TopicPartition, deque[_Pending]] = field(default_factory=dict)

    def register(self, batch: Batch) -> None:
        """Record a sealed batch; call in seal order, before it can finish."""
        for tp, high in batch.high.items():
            self._pending.setdefault(tp, deque()).append(_Pending(batch.seq, high + 1))

    def finish(self, batch: Batch) -> dict[TopicPartition, int]:
        """Mark a batch finished; return the partitions whose committable offset moved, and where to.

        Partitions forgotten since the batch was registered are ignored.
        """
        moved: dict[TopicPartition, int] = {}
        for tp in batch.high:
            queue = self._pending.get(tp)
            if not queue:
                continue
            for entry in queue:
                if entry.seq == batch.seq:
                    entry.done = True
                    break
            while queue and queue[0].done:
                moved[tp] = queue.popleft().next_offset
        return moved

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Drop revoked or lost partitions: finishing their batches later moves nothing."""
        for tp in partitions:
            self._pending.pop(tp, None)

    def unfinished(self, partitions: list[TopicPartition] | None = None) -> int:
        """Batches not yet finished, in all partitions or in the ones given."""
        keys = self._pending.keys() if partitions is None else partitions
        return sum(len(self._pending.get(tp, ())) for tp in keys)
