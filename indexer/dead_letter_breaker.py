"""The dead-letter circuit breaker: the indexer stops when most recent messages became dead
letters, because then the fault is ours (a template, a mapping, the cluster), not the data's."""

from __future__ import annotations

from collections import deque


class DeadLetterBreaker:
    """Trips when too large a share of the recent messages were dead-lettered.

    A few dead letters are bad data; most of them means a broken template or cluster, and
    dead-lettering everything would only move the whole stream aside. Fed per finished batch.
    """

    def __init__(self, share: float, window: int) -> None:
        self._share = share
        self._window = window
        self._recent: deque[tuple[int, int]] = deque()
        self._documents = 0
        self._deadlettered = 0

    def record(self, documents: int, deadlettered: int) -> str | None:
        """Add a batch's counts; return why the breaker trips, or None."""
        self._recent.append((documents, deadlettered))
        self._documents += documents
        self._deadlettered += deadlettered
        while self._recent and self._documents - self._recent[0][0] >= self._window:
            old_documents, old_deadlettered = self._recent.popleft()
            self._documents -= old_documents
            self._deadlettered -= old_deadlettered
        if self._share >= 1 or self._documents < self._window:
            return None
        if self._deadlettered > self._share * self._documents:
            return (
                f"dead-letter circuit breaker: {self._deadlettered} of the last {self._documents} "
                f"messages were dead-lettered (more than {self._share:.0%}); a template, mapping "
                "or cluster problem is likely. Offsets after them are not committed; fix the "
                "cause, then restart (and replay the dead letters with `indexer deadletter replay`)"
            )
        return None
