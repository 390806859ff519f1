"""Preload: create the benchmark topic and fill it with filebeat events, as fast as one producer can."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

PARTITIONS = 4

FAST_PRODUCER = {
    "linger.ms": 50,
    "compression.type": "lz4",
    "batch.num.messages": 10000,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "acks": 1,
}


def create_topic(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions)])
    for future in futures.values():
        future.result(30)


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], options: dict[str, object] | None = None
) -> int:
    """Produce `values` round-robin over the partitions; return how many were acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, **FAST_PRODUCER, **(options or {})})
    failures: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is not None:
            failures.append(str(error))

    sent = 0
    for value in values:
        while True:
            try:
                producer.produce(topic, value, partition=sent % PARTITIONS, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
        if sent % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    if remaining or failures:
        raise RuntimeError(
            f"preload: {remaining} undelivered, {len(failures)} failed: {failures[:3]}"
        )
    return sent


def preload(bootstrap: str, topic: str, values: Iterable[bytes]) -> tuple[int, float]:
    """Create `topic` and fill it; return (events, seconds)."""
    create_topic(bootstrap, topic)
    started = time.monotonic()
    count = produce(bootstrap, topic, values)
    return count, time.monotonic() - started
