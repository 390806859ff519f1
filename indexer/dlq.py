"""Dead letters to a Kafka topic, for operators who want them out of Elasticsearch.

The original message bytes and key travel unchanged; why and where from travel in headers
(`error.type`, `error.message`, `source.topic`, `source.partition`, `source.offset`,
`source.timestamp`, and `target.index` when Elasticsearch refused the document). `send` returns
only once the broker acknowledged every dead letter, so offsets are never committed ahead of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Producer

from indexer.retry import RetryableCondition
from indexer.settings import KafkaSettings

FLUSH_SECONDS = 30.0


class DeadLetterNotDelivered(RetryableCondition):
    """The broker did not acknowledge some dead letters; the caller retries."""


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

    def __init__(self, settings: KafkaSettings, topic: str) -> None:
        self._topic = topic
        self._producer = Producer(producer_config(settings))

    def send(self, letters: list[DeadLetter]) -> None:
        """Produce every letter and wait for the broker's acknowledgement of all of them.

        Raises DeadLetterNotDelivered when any was not acknowledged (all may be sent again)."""
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _: Any) -> None:
            if error is not None:
                failures.append(error)

        for letter in letters:
            self._produce(letter, delivered)
        remaining = self._producer.flush(FLUSH_SECONDS)
        if remaining or failures:
            detail = failures[0] if failures else f"{remaining} still queued"
            raise DeadLetterNotDelivered(f"dead letters not acknowledged by the broker: {detail}")

    def _produce(self, letter: DeadLetter, on_delivery: Any) -> None:
        message = letter.message
        _, millis = message.timestamp()
        headers = [
            ("error.type", letter.error_type.encode()),
            ("error.message", letter.reason[:2000].encode()),
            ("source.topic", message.topic().encode()),
            ("source.partition", str(message.partition()).encode()),
            ("source.offset", str(message.offset()).encode()),
            ("source.timestamp", str(millis).encode()),
        ]
        if letter.target_index is not None:
            headers.append(("target.index", letter.target_index.encode()))
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    message.value(),
                    key=message.key(),
                    headers=headers,
                    on_delivery=on_delivery,
                )
                return
            except BufferError:
                self._producer.poll(0.1)
