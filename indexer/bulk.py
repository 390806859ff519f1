"""Bulk: write one batch to Elasticsearch and give every document exactly one outcome.

`BulkWriter.write` returns only when each document of the batch is indexed, a duplicate, or
dead-lettered (see `outcome.py` for the table), or raises: `Abandoned` when told to stop before
that, `DeadLetterRejected` when even our dead-letter path (the dead-letter index or topic) refuses
a document for another reason than its size (then the fault is ours, not the data's, and nothing
may be committed). A dead letter refused as too large is written again keeping fewer of its
original's bytes; an index (or its namespace template) refused while being prepared is an outcome
for its own documents, whatever the refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from indexer import metrics
from indexer.batch import Batch
from indexer.cluster import ClusterError, ClusterUnavailable, SearchClient
from indexer.deadletter import DEFAULT_MAX_ORIGINAL_BYTES, deadletter_document
from indexer.decode import DecodeError, decode
from indexer.dlq import DeadLetter, DeadLetterTopic, DeadLetterTopicRefused
from indexer.encode import action_id, action_id_text, action_index, encode, pointed_at
from indexer.indices import IndexEnsurer, IndexNotReady, IndexRejected
from indexer.kafka_time import CLOCK_SET_MILLIS, KAFKA_MILLIS_MAX, clockless, message_seconds
from indexer.outcome import Outcome, classify
from indexer.retry import Abandoned, Backoff, RetryableCondition
from indexer.route import iso_timestamp
from indexer.salvage import SALVAGEABLE, salvage
from indexer.settings import RetrySettings

log = structlog.get_logger(__name__)

# Names importers have found here; message and action-line facts live where they are made.
__all__ = [
    "CLOCK_SET_MILLIS",
    "KAFKA_MILLIS_MAX",
    "BulkResult",
    "BulkWriter",
    "DeadLetterRejected",
    "action_id",
    "action_id_text",
    "action_index",
    "clockless",
    "message_seconds",
]

FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason"
TOO_LARGE = "request_entity_too_large"
UNREACHABLE_STATUSES = frozenset({401, 403}) | frozenset(range(500, 600))


class DeadLetterRejected(Exception):
    """The dead-letter index refused a document: stop, commit nothing, let an operator look."""


class _ItemsToRetry(RetryableCondition):
    """Some items answered 429/5xx; the attempt is repeated for those alone."""


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
        settled = self.indexed + self.duplicates + self.deadlettered_total + len(self.parked)
        if settled != self.documents:
            raise AssertionError(f"{settled} outcomes for {self.documents} documents")


@dataclass(frozen=True)
class _Rejection:
    position: int
    error_type: str
    reason: str
    index: str | None
    """The index that refused the document; None for a message that never decoded."""


@dataclass(frozen=True)
class _NotReady:
    """An index that could not be re-created for now, with the condition it answered."""

    reason: str


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
    ) -> None:
        self._park_after = retry.park_after_attempts
        """With `deadletter_topic`, dead letters go to Kafka instead of the dead-letter index.
        A dead letter keeps at most `max_original_bytes` of its message (see deadletter.py)."""
        self._max_original_bytes = max_original_bytes
        self._on_reachability = on_reachability
        self._topic = deadletter_topic
        self._client = client
        self._indices = indices
        self._backoff = Backoff(retry, stop)
        self._deadletter_index = deadletter_index

    def write(self, batch: Batch) -> BulkResult:
        result = BulkResult(documents=len(batch))
        positions = list(range(len(batch)))
        rejections: list[_Rejection] = []
        undecodable = batch.deadletters
        indices: Iterable[str] = batch.indices
        if self._topic is not None and undecodable:
            # Their dead letters go to the topic: the dead-letter index is not written here.
            positions = [i for i in positions if i not in undecodable]
            rejections += [_undecodable(batch, i) for i in undecodable]
            undecodable = {}
            indices = {_index_of(batch, i) for i in positions}
        refused, waiting = self._ensure_indices(batch, indices, self._park_after)
        if waiting:  # their index cannot be had for now: parked like a red index's items
            result.parked.update(
                {i: waiting[index] for i in positions if (index := _index_of(batch, i)) in waiting}
            )
            positions = [i for i in positions if i not in result.parked]
            batch.unprepared.update(result.parked)
        # Refused while preparing its index: nothing about the document itself to salvage.
        unprepared: list[_Rejection] = []
        if refused:
            unprepared = [
                _Rejection(i, *refused[index], index)
                for i in positions
                if (index := _index_of(batch, i)) in refused
            ]
            positions = [i for i in positions if _index_of(batch, i) not in refused]
        rejections += [
            # The dead letter of an undecodable message, refused as too large: it is written
            # again shrunk, with its own reason.
            _undecodable(batch, r.position) if r.position in undecodable else r
            for r in self._send_all(
                batch.lines,
                positions,
                result,
                "execute bulk request",
                undecodable,
                self._park_after,
            )
        ]
        if rejections:
            rejections = self._salvage(batch, rejections, result)
        rejections += unprepared
        if rejections:
            self._deadletter(batch, rejections, result)
        result.check()
        return result

    def retry_parked(self, batch: Batch, positions: list[int]) -> BulkResult:
        """Send parked `positions` of `batch` once more (whole-request failures are retried as
        always); the ones answered 429/5xx again come back in `parked`."""
        result = BulkResult(documents=len(positions))
        unprepared = [p for p in positions if p in batch.unprepared]
        rejections: list[_Rejection] = []
        if unprepared:  # parked before their index could be had: prepare it first, once
            indices = {_index_of(batch, p) for p in unprepared}
            refused, waiting = self._ensure_indices(batch, indices, 1)
            for p in unprepared:
                index = _index_of(batch, p)
                if index in waiting:
                    result.parked[p] = waiting[index]
                elif index in refused:
                    rejections.append(_Rejection(p, *refused[index], index))
                if index not in waiting:
                    batch.unprepared.discard(p)
            positions = [
                p
                for p in positions
                if p not in result.parked and _index_of(batch, p) not in refused
            ]
        undecodable = {p: batch.deadletters[p] for p in positions if p in batch.deadletters}
        sent = self._send_all(
            batch.lines, positions, result, "retry parked documents", undecodable, 1
        )
        if sent:
            rejections = self._salvage(batch, sent, result) + rejections
        if rejections:
            self._deadletter(batch, rejections, result)
        result.check()
        return result

    def expire(self, batch: Batch, positions: list[int], reasons: dict[int, str]) -> BulkResult:
        """Dead-letter parked documents that kept failing, as `retry_exhausted`."""
        result = BulkResult(documents=len(positions))
        rejections = [
            _Rejection(
                p, "retry_exhausted", f"still answered {reasons.get(p)}", _index_of(batch, p)
            )
            for p in positions
        ]
        self._deadletter(batch, rejections, result)
        result.check()
        return result

    def _salvage(
        self, batch: Batch, rejections: list[_Rejection], result: BulkResult
    ) -> list[_Rejection]:
        """Send mapping-refused documents once more with the offending fields moved aside;
        return the rejections that still stand."""
        lines: list[bytes] = []
        origins: list[_Rejection] = []
        remaining: list[_Rejection] = []
        for rejection in rejections:
            if rejection.index is None or rejection.error_type not in SALVAGEABLE:
                remaining.append(rejection)
                continue
            line = batch.lines[rejection.position]
            document = orjson.loads(line[line.index(b"\n") + 1 :])
            message = batch.messages[rejection.position]
            kafka_time = iso_timestamp(message_seconds(message))
            salvaged = salvage(document, rejection.error_type, rejection.reason, kafka_time)
            if salvaged is None:
                remaining.append(rejection)
                continue
            lines.append(encode(rejection.index, action_id(line), salvaged))
            origins.append(rejection)
        if not lines:
            return remaining
        settled = result.indexed + result.duplicates
        refused = self._send_all(lines, list(range(len(lines))), result, "write salvaged documents")
        result.salvaged += result.indexed + result.duplicates - settled
        for again in refused:
            first = origins[again.position]
            reason = (
                f"{first.reason} (salvaged copy refused too: {again.error_type}: {again.reason})"
            )
            remaining.append(_Rejection(first.position, first.error_type, reason, first.index))
        return remaining

    def request(self, body: bytes, documents: int) -> list[dict[str, Any]] | None:
        """One bulk HTTP call. Returns the items, or None when Elasticsearch reported no errors."""
        started = time.perf_counter()
        try:
            response = self._client.bulk(body, FILTER_PATH)
        except (ClusterError, ClusterUnavailable) as exc:
            metrics.BULK_REQUESTS.labels("error").inc()
            if not isinstance(exc, ClusterError) or exc.status in UNREACHABLE_STATUSES:
                # A cluster that refuses our credentials cannot be written either: not ready.
                self._on_reachability(False)
            raise
        finally:
            metrics.BULK_DURATION.observe(time.perf_counter() - started)
        metrics.BULK_DOCS.observe(documents)
        metrics.BULK_LAST_SUCCESS.set(time.time())
        self._on_reachability(True)
        if not isinstance(response, dict):
            raise _ItemsToRetry(f"malformed bulk response: {type(response).__name__}")
        if not response.get("errors"):
            metrics.BULK_REQUESTS.labels("ok").inc()
            return None
        metrics.BULK_REQUESTS.labels("partial").inc()
        items = response.get("items")
        if not _well_formed(items, documents):
            # Nothing in it can be trusted item by item: the whole request is sent again.
            count = len(items) if isinstance(items, list) else "no"
            raise _ItemsToRetry(f"malformed bulk response: {count} items for {documents} documents")
        return items

    def _ensure_indices(
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

    def _send_all(
        self,
        lines: list[bytes],
        positions: list[int],
        result: BulkResult,
        action: str,
        deadletters: dict[int, str] | None = None,
        park_after: int = 0,
    ) -> list[_Rejection]:
        """Send `positions` of `lines` until each has an outcome; return the rejected ones.

        `deadletters` marks lines that are dead letters already: created, they count as dead
        letters; refused, they raise DeadLetterRejected. With `park_after`, the items still
        answered 429/5xx after that many rounds go to `result.parked` instead of being retried
        (whole-request failures are retried as ever: they are no index's own).
        """
        state = _SendState(
            chunks=[positions] if positions else [],
            deadletters=deadletters or {},
            park_after=park_after,
        )
        self._backoff.call(action, self._send_round, lines, state, result)
        if state.parked:
            result.parked.update({p: state.retry_types.get(p, "retry") for p in state.parked})
        return state.rejected

    def _send_round(self, lines: list[bytes], state: _SendState, result: BulkResult) -> None:
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
                    items = self.request(body, len(chunk))
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
            raise _ItemsToRetry(f"{len(again)} items answered 429/5xx")

    def _apply(
        self,
        lines: list[bytes],
        chunk: list[int],
        items: list[dict[str, Any]] | None,
        state: _SendState,
        result: BulkResult,
    ) -> list[int]:
        """Count the outcome of each item; return the positions to send again."""
        retry: list[int] = []
        recreated: dict[str, str | _Rejection | _NotReady] = {}
        if items is None and not state.deadletters:  # errors=false: every item was created
            result.indexed += len(chunk)
            return retry
        for position, item in zip(
            chunk, items or [{"create": {"status": 201}}] * len(chunk), strict=True
        ):
            status, error = _status_and_error(item)
            error_type = error.get("type") if error else None
            outcome = classify(status, error_type)
            reason = state.deadletters.get(position)
            if reason is not None and outcome is not Outcome.RETRY:
                _settle_deadletter(position, reason, outcome, error, result)
            elif outcome is Outcome.INDEXED:
                result.indexed += 1
            elif outcome is Outcome.DUPLICATE:
                result.duplicates += 1
            elif outcome is Outcome.RETRY:
                retry_type = str(error_type or f"http_{status}")
                if error_type == "index_not_found_exception":
                    refusal = self._recreate(lines, position, recreated)
                    if isinstance(refusal, _Rejection):
                        state.rejected.append(refusal)
                        continue
                    if refusal is not None:  # cannot be had for now: retried, then parked
                        retry_type = refusal
                state.retry_types[position] = retry_type
                retry.append(position)
            else:
                reason = str(error.get("reason", "")) if error else ""
                state.rejected.append(
                    _Rejection(
                        position,
                        str(error_type or f"http_{status}"),
                        reason,
                        action_index(lines[position]),
                    )
                )
        return retry

    def _recreate(
        self, lines: list[bytes], position: int, recreated: dict[str, str | _Rejection | _NotReady]
    ) -> _Rejection | str | None:
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
                recreated[index] = _NotReady(exc.reason)
            except IndexRejected as exc:
                log.warning("index_rejected", index=index, error=exc.error_type, reason=exc.reason)
                recreated[index] = _Rejection(position, exc.error_type, exc.reason, index)
        target = recreated[index]
        if isinstance(target, _NotReady):
            return target.reason
        if isinstance(target, _Rejection):
            return _Rejection(position, target.error_type, target.reason, index)
        if target != index:
            lines[position] = pointed_at(lines[position], index, target)
        return None

    def _deadletter(self, batch: Batch, rejections: list[_Rejection], result: BulkResult) -> None:
        if self._topic is not None:
            letters = [
                DeadLetter(batch.messages[r.position], r.error_type, r.reason, r.index)
                for r in rejections
            ]
            try:
                # `send` leaves in `letters` only those not acknowledged: a retry never sends
                # an acknowledged letter twice.
                self._backoff.call("send dead letters to Kafka", self._topic.send, letters)
            except DeadLetterTopicRefused as exc:
                raise DeadLetterRejected(str(exc)) from exc
        else:
            self._index_deadletters(batch, rejections, result)
        for rejection in rejections:
            result.deadlettered[rejection.error_type] = (
                result.deadlettered.get(rejection.error_type, 0) + 1
            )

    def _index_deadletters(
        self, batch: Batch, rejections: list[_Rejection], result: BulkResult
    ) -> None:
        """Write each dead letter keeping at most `max_original_bytes` of its original; one the
        cluster still refuses as too large (a proxy's body limit, say) is written again keeping
        half as many, down to none. Any other refusal is ours: DeadLetterRejected."""
        pending = [(rejection, self._max_original_bytes) for rejection in rejections]
        while pending:
            lines = [self._deadletter_line(batch, r, keep) for r, keep in pending]
            written = BulkResult(documents=len(lines))
            refused = self._send_all(lines, list(range(len(lines))), written, "write dead letters")
            result.retried_items += written.retried_items
            smaller = []
            for refusal in refused:
                rejection, keep = pending[refusal.position]
                if refusal.error_type != TOO_LARGE or keep == 0:
                    raise DeadLetterRejected(
                        f"the dead-letter index {refusal.index} refused a document: "
                        f"{refusal.error_type}: {refusal.reason}"
                    )
                smaller.append((rejection, keep // 2))
            pending = smaller

    def _deadletter_line(self, batch: Batch, rejection: _Rejection, keep: int) -> bytes:
        message = batch.messages[rejection.position]
        seconds = message_seconds(message)
        index = self._deadletter_index(seconds)
        try:
            self._backoff.call("create dead-letter index", self._indices.ensure, index)
        except IndexRejected as exc:
            raise DeadLetterRejected(
                f"the dead-letter index {index} cannot be created: {exc.error_type}: {exc.reason}"
            ) from exc
        document = deadletter_document(
            value=message.value(),
            topic=message.topic(),
            partition=message.partition(),
            offset=message.offset(),
            kafka_seconds=seconds,
            error_type=rejection.error_type,
            reason=rejection.reason,
            target_index=rejection.index,
            max_original_bytes=keep,
        )
        # The letter takes its document's id: a re-sent copy of the event meets it.
        return encode(index, action_id(batch.lines[rejection.position]), document)


@dataclass
class _SendState:
    chunks: list[list[int]]
    deadletters: dict[int, str]
    rejected: list[_Rejection] = field(default_factory=list)
    park_after: int = 0
    item_rounds: int = 0
    parked: list[int] = field(default_factory=list)
    retry_types: dict[int, str] = field(default_factory=dict)
    """The error type each item answered when last retried."""


def _settle_deadletter(
    position: int,
    reason: str,
    outcome: Outcome,
    error: dict[str, Any] | None,
    result: BulkResult,
) -> None:
    if outcome is Outcome.REJECTED:
        detail = f"{error.get('type')}: {error.get('reason')}" if error else "no reason given"
        raise DeadLetterRejected(f"the dead-letter index refused line {position}: {detail}")
    if outcome is Outcome.DUPLICATE:
        result.duplicates += 1
    else:
        result.deadlettered[reason] = result.deadlettered.get(reason, 0) + 1


def _halve(lines: list[bytes], chunk: list[int], state: _SendState) -> list[list[int]]:
    if len(chunk) > 1:
        half = len(chunk) // 2
        return [chunk[:half], chunk[half:]]
    state.rejected.append(
        _Rejection(
            chunk[0],
            "request_entity_too_large",
            "the document alone exceeds the cluster's http.max_content_length",
            action_index(lines[chunk[0]]),
        )
    )
    return []


def _well_formed(items: object, documents: int) -> bool:
    """Whether a bulk response's `items` has one `{action: {"status": int, ...}}` per document."""
    if not isinstance(items, list) or len(items) != documents:
        return False
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            return False
        body = next(iter(item.values()))
        if not isinstance(body, dict) or not isinstance(body.get("status"), int):
            return False
    return True


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


def _undecodable(batch: Batch, position: int) -> _Rejection:
    """The rejection of a message that never became a document (its reason, found again)."""
    try:
        decode(batch.messages[position].value())
    except DecodeError as exc:
        return _Rejection(position, exc.kind, exc.reason, None)
    kind = batch.deadletters[position]
    return _Rejection(position, kind, "the event cannot be written as JSON", None)


def _status_and_error(item: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    body = next(iter(item.values()))
    return int(body.get("status", 0)), body.get("error")


def _index_of(batch: Batch, position: int) -> str:
    return action_index(batch.lines[position])
