"""Kafka for the tests: topics, producing (event times relative to now), and reading back the
group's committed offsets from the broker."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from indexer.sample import sources, stream


def days_ago(days: int) -> datetime:
    """Midnight (UTC) `days` days before today: event times relative to now keep every test
    inside the routing bounds and the retention, whatever the date."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(10)


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], partitions: int | None = None
) -> dict[str, bytes]:
    """Produce `values` (round-robin over `partitions` when given) and return them by their
    Kafka record, `topic:partition:offset` (the key `documents` gives what was stored)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "lz4",
            "message.max.bytes": 2_000_000,
        }
    )
    produced, errors, delivered = _deliveries()

    for i, value in enumerate(values):
        kwargs = {"partition": i % partitions} if partitions else {}
        while True:
            try:
                producer.produce(topic, value, on_delivery=delivered, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors, errors[:3]
    return produced


def produce_sample(
    bootstrap: str,
    topic: str,
    partitions: int,
    events: int,
    start: datetime,
    days: int = 1,
    spread: tuple[int, int, int] = (2, 2, 2),
) -> dict[str, bytes]:
    """Create `topic` and produce `events` sample events (`indexer.sample`: `spread` is
    namespaces, apps per namespace, pods per app) over `days` days from `start`, round-robin over
    its partitions; returns them by record, as `produce` does."""
    create_topic(bootstrap, topic, partitions)
    values = [value for _, value in stream(sources(*spread), events, start, days=days)]
    return produce(bootstrap, topic, values, partitions=partitions)


def produce_stamped(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes, int | None]]
) -> dict[str, bytes]:
    """Produce (value, Kafka timestamp in ms, or None for the producer's now) one at a time to
    partition 0, in order; returns the values by record (`topic:partition:offset`)."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 20_000_000})
    produced, errors, delivered = _deliveries()

    for value, millis in records:
        stamp = {"timestamp": millis} if millis is not None else {}
        producer.produce(topic, value, partition=0, on_delivery=delivered, **stamp)
        producer.flush(30)  # one at a time: records in produce order
    assert not errors, errors
    return produced


def committed_offsets(bootstrap: str, group: str = "log-indexer") -> dict[tuple[str, int], int]:
    """The group's committed offsets, read back from the broker (not from the indexer's logs)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group)]
    answer = admin.list_consumer_group_offsets(request)[group].result(10)
    return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions if tp.offset >= 0}


def ends_of(produced: dict[str, bytes]) -> dict[tuple[str, int], int]:
    """Offset after the last produced message of each partition (the broker's ListOffsets is
    batch-grained here, TESTING-NOTES.md, so it is computed from what was produced)."""
    ends: dict[tuple[str, int], int] = {}
    for doc_id in produced:
        topic, partition, offset = doc_id.rsplit(":", 2)
        key = (topic, int(partition))
        ends[key] = max(ends.get(key, 0), int(offset) + 1)
    return ends


def _deliveries() -> tuple[dict[str, bytes], list[str], Callable[[Any, Any], None]]:
    """What the producer delivered, by record (`topic:partition:offset`, an empty value as
    b""), the delivery errors, and the `on_delivery` callback that fills both."""
    produced: dict[str, bytes] = {}
    errors: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            produced[f"{msg.topic()}:{msg.partition()}:{msg.offset()}"] = msg.value() or b""

    return produced, errors, delivered
