"""Offset commits are counted by result, from what the real broker answers: the alert
`IndexerCommitsFailing` reads `indexer_offset_commits_total{result="error"}`."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition

from indexer import metrics
from indexer.consume import consumer_config
from indexer.embedded import ServerProcess
from indexer.settings import KafkaSettings
from tests.support import create_topic


def _commits(result: str) -> float:
    return float(metrics.OFFSETS_COMMITTED.labels(result)._value.get())


def _commit_and_wait(consumer: Consumer, offsets: list[TopicPartition]) -> None:
    """A background commit, as librdkafka's auto-commit makes them; its callback runs in poll."""
    before = _commits("ok") + _commits("error")
    consumer.commit(offsets=offsets, asynchronous=True)
    deadline = time.monotonic() + 20
    while _commits("ok") + _commits("error") == before:
        assert time.monotonic() < deadline, "the commit was never answered"
        consumer.poll(0.2)


def test_a_commit_the_broker_refuses_counts_as_an_error_and_one_it_takes_as_ok(
    kafka: ServerProcess,
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-commits", 1)
    settings = KafkaSettings(bootstrap_servers=bootstrap, group_id="commit-counting")
    consumer = Consumer(consumer_config(settings))
    try:
        ok, error = _commits("ok"), _commits("error")
        _commit_and_wait(consumer, [TopicPartition("filebeat-commits", 0, 0)])
        assert (_commits("ok"), _commits("error")) == (ok + 1, error)
        # The broker answers UNKNOWN_TOPIC_OR_PART for a topic it does not have.
        _commit_and_wait(consumer, [TopicPartition("filebeat-gone", 0, 5)])
        assert (_commits("ok"), _commits("error")) == (ok + 1, error + 1)
    finally:
        consumer.close()
