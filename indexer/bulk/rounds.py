"""Rounds: send lines until each has an outcome, counting each outcome once, when it arrives.

`Sender.send_all` blocks until every position it was given is indexed, a duplicate, rejected, or
(with `park_after`) parked; between rounds it sleeps in the writer's backoff, in the calling
thread. It raises `Abandoned` when told to stop first, and `DeadLetterRejected` when a line that
is a dead letter already is refused; any other failure of a request (no answer, an error status,
a malformed answer) is retried in the backoff, never given up on. A 413 halves the request on
the spot, down to a single document, which is then rejected as too large; items answered 429/5xx
are sent again in the next round, and so is every chunk not sent because a request failed; a
404 for a missing index re-creates it first (`IndexTargets.recreate`). A caller may assume that
the counts in its `BulkResult` and the rejections returned never count a document twice, and that
only the lines of re-created or re-targeted indices were rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from indexer import metrics
from indexer.bulk.dead_letter_router import settle_deadletter
from indexer.bulk.result import BulkResult, Rejection
from indexer.bulk.service import BulkService, ItemsToRetry, status_and_error
from indexer.bulk.targets import IndexTargets, Recreated
from indexer.cluster import ClusterError
from indexer.encode import action_index
from indexer.outcome import Outcome, classify
from indexer.retry import Backoff


@dataclass
class SendState:
    """What one `send_all` has left to send, and what it found so far."""

    chunks: list[list[int]]
    deadletters: dict[int, str]
    rejected: list[Rejection] = field(default_factory=list)
    park_after: int = 0
    item_rounds: int = 0
    parked: list[int] = field(default_factory=list)
    retry_types: dict[int, str] = field(default_factory=dict)
    """The error type each item answered when last retried."""


class Sender:
    """Sends positions of lines in rounds; safe to call from several threads at once."""

    def __init__(self, service: BulkService, backoff: Backoff, targets: IndexTargets) -> None:
        self._service = service
        self._backoff = backoff
        self._targets = targets

    def send_all(
        self,
        lines: list[bytes],
        positions: list[int],
        result: BulkResult,
        action: str,
        deadletters: dict[int, str] | None = None,
        park_after: int = 0,
    ) -> list[Rejection]:
        """Send `positions` of `lines` until each has an outcome; return the rejected ones.

        `deadletters` marks lines that are dead letters already: created, they count as dead
        letters; refused, they raise DeadLetterRejected. With `park_after`, the items still
        answered 429/5xx after that many rounds go to `result.parked` instead of being retried
        (whole-request failures are retried as ever: they are no index's own).
        """
        state = SendState(
            chunks=[positions] if positions else [],
            deadletters=deadletters or {},
            park_after=park_after,
        )
        self._backoff.call(action, self._send_round, lines, state, result)
        if state.parked:
            result.parked.update({p: state.retry_types.get(p, "retry") for p in state.parked})
        return state.rejected

    def _send_round(self, lines: list[bytes], state: SendState, result: BulkResult) -> None:
        """Send every pending chunk once.

        A 413 halves the chunk on the spot. Items answered 429/5xx, and chunks not sent because a
        request failed, stay pending for the next round, after a backoff. Each outcome is counted
        once, when it arrives.
        """
        again: list[int] = []
        try:
            while state.chunks:
                chunk = state.chunks[0]
                try:
                    body = (
                        b"".join(lines)
                        if len(chunk) == len(lines)
                        else b"".join([lines[i] for i in chunk])
                    )
                    items = self._service.request(body, len(chunk))
                except ClusterError as exc:
                    if exc.status != 413:
                        raise
                    state.chunks[:1] = _halve(lines, chunk, state)
                    continue
                result.requests += 1
                state.chunks.pop(0)
                again += self._apply(lines, chunk, items, state, result)
        finally:
            if again:
                state.chunks.append(again)
        if again:
            state.item_rounds += 1
            if state.park_after and state.item_rounds >= state.park_after:
                state.parked = state.chunks.pop()  # `again`, appended last
                return
            result.retried_items += len(again)
            metrics.ITEMS_RETRIED.inc(len(again))
            raise ItemsToRetry(f"{len(again)} items answered 429/5xx")

    def _apply(
        self,
        lines: list[bytes],
        chunk: list[int],
        items: list[dict[str, Any]] | None,
        state: SendState,
        result: BulkResult,
    ) -> list[int]:
        """Count the outcome of each item; return the positions to send again."""
        retry: list[int] = []
        recreated: Recreated = {}
        if items is None and not state.deadletters:  # errors=false: every item was created
            result.indexed += len(chunk)
            return retry
        for position, item in zip(
            chunk, items or [{"create": {"status": 201}}] * len(chunk), strict=True
        ):
            status, error = status_and_error(item)
            error_type = error.get("type") if error else None
            outcome = classify(status, error_type)
            reason = state.deadletters.get(position)
            if reason is not None and outcome is not Outcome.RETRY:
                settle_deadletter(position, reason, outcome, error, result)
            elif outcome is Outcome.INDEXED:
                result.indexed += 1
            elif outcome is Outcome.DUPLICATE:
                result.duplicates += 1
            elif outcome is Outcome.RETRY:
                retry_type = str(error_type or f"http_{status}")
                if error_type == "index_not_found_exception":
                    refusal = self._targets.recreate(lines, position, recreated)
                    if isinstance(refusal, Rejection):
                        state.rejected.append(refusal)
                        continue
                    if refusal is not None:  # cannot be had for now: retried, then parked
                        retry_type = refusal
                state.retry_types[position] = retry_type
                retry.append(position)
            else:
                reason = str(error.get("reason", "")) if error else ""
                state.rejected.append(
                    Rejection(
                        position,
                        str(error_type or f"http_{status}"),
                        reason,
                        action_index(lines[position]),
                    )
                )
        return retry


def _halve(lines: list[bytes], chunk: list[int], state: SendState) -> list[list[int]]:
    """The two halves of a chunk refused as too large; a single document alone is rejected."""
    if len(chunk) > 1:
        half = len(chunk) // 2
        return [chunk[:half], chunk[half:]]
    state.rejected.append(
        Rejection(
            chunk[0],
            "request_entity_too_large",
            "the document alone exceeds the cluster's http.max_content_length",
            action_index(lines[chunk[0]]),
        )
    )
    return []
