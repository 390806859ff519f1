"""The dead-letter topic in one process against the real broker: several writer threads share one
producer, and every letter becomes exactly one record."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Consumer, Message, TopicPartition

from indexer.dead_letter_topic import DeadLetter, DeadLetterTopic
from indexer.embedded import ServerProcess
from indexer.settings import KafkaSettings
from tests.support import create_topic

THREADS = 4
LETTERS = 60


def _letters(thread: int) -> list[DeadLetter]:
    return [
        DeadLetter(
            Message(
                topic="filebeat",
                partition=thread,
                offset=n,
                value=b'{"message": "line %d of %d"' % (n, thread),
                timestamp=(1, 1_700_000_000_000 + n),
            ),
            "invalid_json",
            "unexpected end of data",
        )
        for n in range(LETTERS)
    ]


def _records(bootstrap: str, expected: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "check", "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition("deadletters", 0, 0)])
    records: list[Message] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            records.append(message)
        elif len(records) >= expected:
            break  # and nothing more came for half a second
    consumer.close()
    return records


def test_letters_sent_from_several_threads_at_once_each_become_exactly_one_record(
    kafka: ServerProcess,
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "deadletters", 1)
    topic = DeadLetterTopic(KafkaSettings(bootstrap_servers=bootstrap), "deadletters")
    errors: list[BaseException] = []

    def send(thread: int) -> None:
        letters = _letters(thread)
        try:
            for start in range(0, LETTERS, 10):  # one call per bulk's worth, as writers do
                topic.send(letters[start : start + 10])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    records = _records(bootstrap, THREADS * LETTERS)
    sources = [(h["source.partition"], h["source.offset"]) for h in map(_headers, records)]
    assert sorted(sources) == sorted(
        (str(t).encode(), str(n).encode()) for t in range(THREADS) for n in range(LETTERS)
    )


def _headers(record: Message) -> dict[str, bytes]:
    return {key: value for key, value in record.headers() or []}
