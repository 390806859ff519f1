"""The bulk writer: the flow of one batch, from its prepared indices to its dead letters.

`BulkWriter.write` returns only when each document of the batch is indexed, a duplicate, or
dead-lettered (see `outcome.py` for the table), or parked (`BulkResult.parked`) when its items
kept answering 429/5xx or its index could not be had for now; or it raises: `Abandoned` when told
to stop before that, `DeadLetterRejected` when even our dead-letter path (the dead-letter index or
topic) refuses a document for another reason than its size (then the fault is ours, not the
data's, and nothing may be committed). It blocks in the calling thread, sleeping in the backoff
of `retry` between attempts. A caller may assume the result has passed `BulkResult.check`, and
that the batch's lines may have been rewritten in place to point at the index actually granted.

The jobs it strings together each have their own file: `service.py` (the HTTP call),
`rounds.py` (413 halving, item retries, parking), `targets.py` (index preparation),
`salvaging.py` (mapping-refused documents, once more) and `dead_letter_router.py` (topic or index).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from indexer.batch import Batch
from indexer.bulk.dead_letter_router import DeadLetters, undecodable_rejection
from indexer.bulk.result import BulkResult, Rejection
from indexer.bulk.rounds import Sender
from indexer.bulk.salvaging import salvage_rejected
from indexer.bulk.service import BulkService
from indexer.bulk.targets import IndexTargets, index_of, park_waiting, split_refused
from indexer.cluster import SearchClient
from indexer.dead_letter_shape import DEFAULT_MAX_ORIGINAL_BYTES
from indexer.dead_letter_topic import DeadLetterTopic
from indexer.indices import IndexEnsurer
from indexer.retry import Backoff
from indexer.settings import RetrySettings


class BulkWriter:
    """Writes batches; safe to call from several threads at once (one batch per call)."""

    def __init__(
        self,
        client: SearchClient,
        indices: IndexEnsurer,
        retry: RetrySettings,
        deadletter_index: Callable[[float], str],
        stop: threading.Event,
        on_reachability: Callable[[bool], None] = lambda ok: None,
        deadletter_topic: DeadLetterTopic | None = None,
        max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """With `deadletter_topic`, dead letters go to Kafka instead of the dead-letter index.
        A dead letter keeps at most `max_original_bytes` of its message (see dead_letter_shape.py).
        `wait` is the backoff's sleep (`Backoff`): `stop.wait` unless given."""
        self._park_after = retry.park_after_attempts
        backoff = Backoff(retry, stop, wait)
        self._service = BulkService(client, on_reachability)
        self._targets = IndexTargets(indices, backoff)
        self._sender = Sender(self._service, backoff, self._targets)
        self._letters = DeadLetters(
            self._sender, indices, backoff, deadletter_index, deadletter_topic, max_original_bytes
        )

    def write(self, batch: Batch) -> BulkResult:
        """Prepare the batch's indices (parking or refusing the documents of those that cannot
        be had), send it in rounds, salvage what the mappings refused, dead-letter the rest."""
        result = BulkResult(documents=len(batch))
        positions = list(range(len(batch)))
        rejections: list[Rejection] = []
        undecodable = batch.deadletters
        indices: Iterable[str] = batch.indices
        if self._letters.to_topic and undecodable:
            # Their dead letters go to the topic: the dead-letter index is not written here.
            positions = [i for i in positions if i not in undecodable]
            rejections += [undecodable_rejection(batch, i) for i in undecodable]
            undecodable = {}
            indices = {index_of(batch, i) for i in positions}
        refused, waiting = self._targets.prepare(batch, indices, self._park_after)
        # Their index cannot be had for now: parked like a red index's items.
        positions = park_waiting(batch, positions, waiting, result)
        # Refused while preparing its index: nothing about the document itself to salvage.
        positions, unprepared = split_refused(batch, positions, refused)
        sent = self._sender.send_all(
            batch.lines,
            positions,
            result,
            "execute bulk request",
            undecodable,
            self._park_after,
        )
        rejections += [
            # The dead letter of an undecodable message, refused as too large: it is written
            # again shrunk, with its own reason.
            undecodable_rejection(batch, r.position) if r.position in undecodable else r
            for r in sent
        ]
        if rejections:
            rejections = salvage_rejected(self._sender, batch, rejections, result)
        rejections += unprepared
        if rejections:
            self._letters.write(batch, rejections, result)
        result.check()
        return result

    def retry_parked(self, batch: Batch, positions: list[int]) -> BulkResult:
        """Send parked `positions` of `batch` once more (whole-request failures are retried as
        always); the ones answered 429/5xx again come back in `parked`."""
        result = BulkResult(documents=len(positions))
        # Parked before their index could be had: prepared first, once.
        positions, rejections = self._targets.prepare_parked(batch, positions, result)
        undecodable = {p: batch.deadletters[p] for p in positions if p in batch.deadletters}
        sent = self._sender.send_all(
            batch.lines, positions, result, "retry parked documents", undecodable, 1
        )
        if sent:
            rejections = salvage_rejected(self._sender, batch, sent, result) + rejections
        if rejections:
            self._letters.write(batch, rejections, result)
        result.check()
        return result

    def expire(self, batch: Batch, positions: list[int], reasons: dict[int, str]) -> BulkResult:
        """Dead-letter parked documents that kept failing, as `retry_exhausted`."""
        result = BulkResult(documents=len(positions))
        rejections = [
            Rejection(p, "retry_exhausted", f"still answered {reasons.get(p)}", index_of(batch, p))
            for p in positions
        ]
        self._letters.write(batch, rejections, result)
        result.check()
        return result

    def request(self, body: bytes, documents: int) -> list[dict[str, Any]] | None:
        """One bulk HTTP call (`BulkService.request`). Returns the items, or None when
        Elasticsearch reported no errors."""
        return self._service.request(body, documents)
