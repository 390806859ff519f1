"""Dead letters to a Kafka topic, for operators who want them out of Elasticsearch.

The original message bytes (at most `max_original_bytes` of them, see `dead_letter_shape.keep_original`)
and key travel as the record's value and key; why and where from travel in headers
(`error.type`, `error.message`, `source.topic`, `source.partition`, `source.offset`,
`source.timestamp`, `target.index` when Elasticsearch refused the document, and
`original.size`, `original.sha256`, `original.truncated` describing the whole original). `send`
returns only once the broker acknowledged every dead letter, so offsets are never committed
ahead of them.

A dead letter the producer or the broker refuses as too large (`MSG_SIZE_TOO_LARGE`: the
producer's `message.max.bytes`, the broker's or the topic's `max.message.bytes`) is sent again
keeping half as many bytes, down to none (and then without its key). Any other refusal for good
raises `DeadLetterTopicRefused`: our own dead-letter path refuses, nothing may be committed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from indexer.dead_letter_shape import DEFAULT_MAX_ORIGINAL_BYTES, keep_original
from indexer.kafka_log import KafkaLogBridge
from indexer.retry import RetryableCondition
from indexer.settings import KafkaSettings

FLUSH_SECONDS = 30.0
TOO_LARGE = frozenset({KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE})
# Refusals that no retry changes: a permission, or a record the broker will never take.
REFUSED = frozenset(
    {
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        KafkaError.INVALID_RECORD,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError._INVALID_ARG,
    }
)


class DeadLetterNotDelivered(RetryableCondition):
    """The broker did not acknowledge some dead letters; the caller retries."""


class DeadLetterTopicRefused(Exception):
    """The dead-letter topic refused a dead letter for good: the fault is ours, stop."""


@dataclass(frozen=True)
class DeadLetter:
    message: Any  # confluent_kafka.Message
    error_type: str
    reason: str
    target_index: str | None = None


def producer_config(settings: KafkaSettings) -> dict[str, Any]:
    return {
        **settings.options,
        "bootstrap.servers": settings.bootstrap_servers,
        "acks": "all",
        "enable.idempotence": True,
        # Every letter gets its delivery report before `send` stops waiting for it, so a letter
        # `send` reports as not acknowledged is not delivered later behind its second copy.
        "message.timeout.ms": int(FLUSH_SECONDS * 1000) - 5000,
        "linger.ms": 5,
        "compression.type": "lz4",
    }


class DeadLetterTopic:
    """Thread-safe (librdkafka's producer is)."""

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
    ) -> None:
        self._topic = topic
        self._max_original_bytes = max_original_bytes
        # librdkafka's logs and errors structured and throttled, like the consumer's.
        logging = KafkaLogBridge("deadletter-producer").config()
        self._producer = Producer({**producer_config(settings), **logging})

    def send(self, letters: list[DeadLetter]) -> None:
        """Produce every letter and wait for the broker's acknowledgement of each of them.

        Waits for this call's own delivery reports only (never `flush`, which would also wait
        for other threads' letters on the shared producer, and make a slow one of theirs fail
        this call). Raises DeadLetterNotDelivered when some were not acknowledged: `letters`
        then holds just those, so a caller that calls again with the same list never sends an
        acknowledged letter twice (one letter, one record). Raises DeadLetterTopicRefused when
        one was refused for good."""
        pending = [(letter, self._max_original_bytes) for letter in letters]
        while pending:
            pending, failures = self._send_once(pending)
            if failures:
                unsent = {id(letter) for (letter, _), _ in failures}
                unsent.update(id(letter) for letter, _ in pending)
                letters[:] = [letter for letter in letters if id(letter) in unsent]
                raise DeadLetterNotDelivered(
                    f"{len(letters)} dead letters not acknowledged by the broker: {failures[0][1]}"
                )

    def _send_once(
        self, pending: list[tuple[DeadLetter, int]]
    ) -> tuple[list[tuple[DeadLetter, int]], list[tuple[tuple[DeadLetter, int], KafkaError]]]:
        """Produce each (letter, bytes to keep) and wait for their reports; return the ones
        refused as too large, keeping half as many bytes (to send again at once), and the ones
        not acknowledged otherwise (for the caller's backoff)."""
        reports = _Reports()
        too_large: list[tuple[DeadLetter, int]] = []
        for letter, limit in pending:
            refused = self._produce(letter, limit, reports.expect(letter, limit))
            if refused is not None:
                reports.cancel()
                too_large.append((letter, limit))
        deadline = time.monotonic() + FLUSH_SECONDS
        while reports.outstanding and time.monotonic() < deadline:
            self._producer.poll(0.05)  # serves every thread's reports; each updates its own call
        final = [e for _, e in reports.failures if e.fatal() or e.code() in REFUSED]
        if final:
            raise DeadLetterTopicRefused(f"the dead-letter topic {self._topic} refused: {final[0]}")
        failures = list(reports.failures) + [
            (entry, KafkaError(KafkaError._MSG_TIMED_OUT)) for entry in reports.unreported()
        ]
        return [_halved(*entry) for entry in too_large + reports.too_large], failures

    def _produce(self, letter: DeadLetter, limit: int, on_delivery: Any) -> KafkaError | None:
        """Queue one letter keeping at most `limit` bytes; the producer's size refusal, if any.

        A negative `limit` means: nothing kept, and no key either."""
        message = letter.message
        _, millis = message.timestamp()
        original = keep_original(message.value(), max(limit, 0))
        headers = [
            ("error.type", letter.error_type.encode()),
            ("error.message", letter.reason[:2000].encode()),
            ("source.topic", message.topic().encode()),
            ("source.partition", str(message.partition()).encode()),
            ("source.offset", str(message.offset()).encode()),
            ("source.timestamp", str(millis).encode()),
            ("original.size", str(original.size).encode()),
            ("original.sha256", original.sha256.encode()),
            ("original.truncated", b"true" if original.truncated else b"false"),
        ]
        if letter.target_index is not None:
            headers.append(("target.index", letter.target_index.encode()))
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    original.kept,
                    key=message.key() if limit >= 0 else None,
                    headers=headers,
                    on_delivery=on_delivery,
                )
                return None
            except BufferError:
                self._producer.poll(0.1)
            except KafkaException as exc:
                error: KafkaError = exc.args[0]
                if error.code() in TOO_LARGE:
                    return error
                raise DeadLetterTopicRefused(
                    f"the dead-letter topic {self._topic} refused: {error}"
                ) from exc


class _Reports:
    """The delivery reports of one `send` round, whichever thread's poll delivers them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[int, tuple[DeadLetter, int]] = {}
        self.too_large: list[tuple[DeadLetter, int]] = []
        self.failures: list[tuple[tuple[DeadLetter, int], KafkaError]] = []
        self._last: int | None = None

    @property
    def outstanding(self) -> bool:
        return bool(self._waiting)

    def expect(self, letter: DeadLetter, limit: int) -> Callable[[KafkaError | None, Any], None]:
        key = id(letter)
        with self._lock:
            self._waiting[key] = (letter, limit)
            self._last = key

        def delivered(error: KafkaError | None, _: Any) -> None:
            with self._lock:
                self._waiting.pop(key, None)
                if error is None:
                    return
                if error.code() in TOO_LARGE:
                    self.too_large.append((letter, limit))
                else:
                    self.failures.append(((letter, limit), error))

        return delivered

    def cancel(self) -> None:
        """The last letter expected was refused by `produce` itself: no report will come."""
        with self._lock:
            if self._last is not None:
                self._waiting.pop(self._last, None)

    def unreported(self) -> list[tuple[DeadLetter, int]]:
        with self._lock:
            return list(self._waiting.values())


def _halved(letter: DeadLetter, limit: int) -> tuple[DeadLetter, int]:
    """The same letter keeping half as many bytes; after none, without its key; then give up."""
    if limit < 0:
        raise DeadLetterTopicRefused(
            "the dead-letter topic refuses even a dead letter without value or key as too large "
            "(its headers alone exceed message.max.bytes)"
        )
    return letter, (limit // 2 if limit > 0 else -1)
