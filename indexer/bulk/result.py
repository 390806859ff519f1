"""The nouns of a bulk write: a batch's outcome counts, and one document's refusal.

Plain data, built and read by the writer's own thread: nothing here blocks or is shared. A caller
may assume that a `BulkResult` handed back by `BulkWriter` has passed `check` (every document has
exactly one outcome, or is parked awaiting one).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DeadLetterRejected(Exception):
    """The dead-letter index refused a document: stop, commit nothing, let an operator look."""


@dataclass
class BulkResult:
    """Outcome counts of one batch. indexed + duplicates + dead letters == documents."""

    documents: int
    indexed: int = 0
    duplicates: int = 0
    deadlettered: dict[str, int] = field(default_factory=dict)
    retried_items: int = 0
    requests: int = 0
    salvaged: int = 0
    """Of indexed and duplicates: how many went in only after salvage."""
    parked: dict[int, str] = field(default_factory=dict)
    """Positions still answered 429/5xx after `retry.park_after_attempts`, with the error type:
    they have no outcome yet, the parking lot (`indexer.parking`) retries them."""

    @property
    def deadlettered_total(self) -> int:
        return sum(self.deadlettered.values())

    def check(self) -> None:
        """Raises AssertionError unless every document has exactly one outcome (or is parked)."""
        settled = self.indexed + self.duplicates + self.deadlettered_total + len(self.parked)
        if settled != self.documents:
            raise AssertionError(f"{settled} outcomes for {self.documents} documents")


@dataclass(frozen=True)
class Rejection:
    """A document refused for good, on its way to salvage or the dead letters."""

    position: int
    error_type: str
    reason: str
    index: str | None
    """The index that refused the document; None for a message that never decoded."""
