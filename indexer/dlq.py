"""Dead letters to a Kafka topic, for operators who want them out of Elasticsearch.

The original message bytes (at most `max_original_bytes` of them, see `deadletter.keep_original`)
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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from indexer.deadletter import DEFAULT_MAX_ORIGINAL_BYTES, keep_original
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
        """Produce every letter and wait for the broker's acknowledgement of all of them.

        Raises DeadLetterNotDelivered when any was not acknowledged (all may be sent again), and
        DeadLetterTopicRefused when one was refused for good."""
        pending = [(letter, self._max_original_bytes) for letter in letters]
        while pending:
            pending = self._send_once(pending)

    def _send_once(self, pending: list[tuple[DeadLetter, int]]) -> list[tuple[DeadLetter, int]]:
        """Produce each (letter, bytes to keep) and flush; return what to send again: the ones
        refused as too large keeping half as many bytes, and, with them, the ones that failed
        otherwise (a broker refusing one record may fail its neighbours' batch)."""
        failures: list[tuple[tuple[DeadLetter, int], KafkaError]] = []
        too_large: list[tuple[DeadLetter, int]] = []
        for letter, limit in pending:
            refused = self._produce(letter, limit, _on_delivery(letter, limit, too_large, failures))
            if refused is not None:
                too_large.append((letter, limit))
        remaining = self._producer.flush(FLUSH_SECONDS)
        final = [e for _, e in failures if e.fatal() or e.code() in REFUSED]
        if final:
            raise DeadLetterTopicRefused(f"the dead-letter topic {self._topic} refused: {final[0]}")
        if remaining or (failures and not too_large):
            detail = failures[0][1] if failures else f"{remaining} still queued"
            raise DeadLetterNotDelivered(f"dead letters not acknowledged by the broker: {detail}")
        return [_halved(*entry) for entry in too_large] + [entry for entry, _ in failures]

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


def _on_delivery(
    letter: DeadLetter,
    limit: int,
    too_large: list[tuple[DeadLetter, int]],
    failures: list[tuple[tuple[DeadLetter, int], KafkaError]],
) -> Callable[[KafkaError | None, Any], None]:
    def delivered(error: KafkaError | None, _: Any) -> None:
        if error is None:
            return
        if error.code() in TOO_LARGE:
            too_large.append((letter, limit))
        else:
            failures.append(((letter, limit), error))

    return delivered


def _halved(letter: DeadLetter, limit: int) -> tuple[DeadLetter, int]:
    """The same letter keeping half as many bytes; after none, without its key; then give up."""
    if limit < 0:
        raise DeadLetterTopicRefused(
            "the dead-letter topic refuses even a dead letter without value or key as too large "
            "(its headers alone exceed message.max.bytes)"
        )
    return letter, (limit // 2 if limit > 0 else -1)
