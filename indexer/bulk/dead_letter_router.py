"""Dead letters of a bulk write: routed to the dead-letter topic, or else the dead-letter index.

`DeadLetters.write` blocks until every rejection it is given is acknowledged by the topic or
written to the dead-letter index (created on demand), retrying in the writer's backoff in the
calling thread. It raises `Abandoned` when told to stop first, and `DeadLetterRejected` when our
own dead-letter path refuses a letter for another reason than its size (then the fault is ours,
not the data's, and nothing may be committed). A letter the index refuses as too large is written
again keeping half as many of its original's bytes, down to none. A caller may assume that on
return each rejection is counted once in `result.deadlettered`, by its error type, and that a
letter takes its document's `_id`, so a re-sent copy of the event meets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from indexer.batch import Batch
from indexer.bulk.result import BulkResult, DeadLetterRejected, Rejection
from indexer.dead_letter_shape import deadletter_document
from indexer.dead_letter_topic import DeadLetter, DeadLetterTopic, DeadLetterTopicRefused
from indexer.decode import DecodeError, decode
from indexer.encode import action_id, encode
from indexer.indices import IndexEnsurer, IndexRejected
from indexer.kafka_time import message_seconds
from indexer.outcome import Outcome
from indexer.retry import Backoff

if TYPE_CHECKING:  # rounds settle dead letters with `settle_deadletter`: imported one way only
    from indexer.bulk.rounds import Sender

TOO_LARGE = "request_entity_too_large"


class DeadLetters:
    """Writes a batch's dead letters; safe to call from several threads at once."""

    def __init__(
        self,
        sender: Sender,
        indices: IndexEnsurer,
        backoff: Backoff,
        deadletter_index: Callable[[float], str],
        topic: DeadLetterTopic | None,
        max_original_bytes: int,
    ) -> None:
        self._sender = sender
        self._indices = indices
        self._backoff = backoff
        self._deadletter_index = deadletter_index
        self._topic = topic
        self._max_original_bytes = max_original_bytes

    @property
    def to_topic(self) -> bool:
        """Whether dead letters go to Kafka (then the dead-letter index is never written)."""
        return self._topic is not None

    def write(self, batch: Batch, rejections: list[Rejection], result: BulkResult) -> None:
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
            self._index(batch, rejections, result)
        for rejection in rejections:
            result.deadlettered[rejection.error_type] = (
                result.deadlettered.get(rejection.error_type, 0) + 1
            )

    def _index(self, batch: Batch, rejections: list[Rejection], result: BulkResult) -> None:
        """Write each dead letter keeping at most `max_original_bytes` of its original; one the
        cluster still refuses as too large (a proxy's body limit, say) is written again keeping
        half as many, down to none. Any other refusal is ours: DeadLetterRejected."""
        pending = [(rejection, self._max_original_bytes) for rejection in rejections]
        while pending:
            lines = [self._line(batch, r, keep) for r, keep in pending]
            written = BulkResult(documents=len(lines))
            refused = self._sender.send_all(
                lines, list(range(len(lines))), written, "write dead letters"
            )
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

    def _line(self, batch: Batch, rejection: Rejection, keep: int) -> bytes:
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


def settle_deadletter(
    position: int,
    reason: str,
    outcome: Outcome,
    error: dict[str, Any] | None,
    result: BulkResult,
) -> None:
    """Count the answer to a line that is a dead letter already (an undecodable message's, in
    the batch); raises DeadLetterRejected when the dead-letter index refused it."""
    if outcome is Outcome.REJECTED:
        detail = f"{error.get('type')}: {error.get('reason')}" if error else "no reason given"
        raise DeadLetterRejected(f"the dead-letter index refused line {position}: {detail}")
    if outcome is Outcome.DUPLICATE:
        result.duplicates += 1
    else:
        result.deadlettered[reason] = result.deadlettered.get(reason, 0) + 1


def undecodable_rejection(batch: Batch, position: int) -> Rejection:
    """The rejection of a message that never became a document (its reason, found again)."""
    try:
        decode(batch.messages[position].value())
    except DecodeError as exc:
        return Rejection(position, exc.kind, exc.reason, None)
    kind = batch.deadletters[position]
    return Rejection(position, kind, "the event cannot be written as JSON", None)
