"""Consume: the Kafka consumer, configured for at-least-once.

Offsets are stored by the pipeline only after Elasticsearch acknowledged (or dead-lettered) every
message up to them (`enable.auto.offset.store=false`); librdkafka's background commit then commits
the stored offsets every `commit_interval_seconds`, and the pipeline forces a synchronous commit on
revoke and on shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, TopicPartition

from indexer import metrics
from indexer.kafka_log import KafkaLogBridge
from indexer.settings import KafkaSettings

# The indexer's guarantees rest on these: user options cannot override them.
FIXED = {
    "enable.auto.offset.store": False,
    "enable.auto.commit": True,
    "enable.partition.eof": False,
}

DEFAULTS: dict[str, Any] = {
    "partition.assignment.strategy": "cooperative-sticky",
    "auto.offset.reset": "earliest",
    # librdkafka >= 2.4 backs off 1 s when its queue is full, which stalls a busy consumer.
    "fetch.queue.backoff.ms": 10,
    # Bounds what librdkafka prefetches, and so the process's memory while a backlog drains.
    "queued.max.messages.kbytes": 8192,
    "statistics.interval.ms": 5000,
    "session.timeout.ms": 45000,
    "max.poll.interval.ms": 300000,
}


def consumer_config(
    settings: KafkaSettings,
    on_stats: Callable[[str], None] | None = None,
    bridge: KafkaLogBridge | None = None,
) -> dict[str, Any]:
    """The consumer's configuration. With `bridge`, librdkafka's logs and errors go through it
    (structured, throttled) and its statistics tell it when Kafka is reachable again."""
    config: dict[str, Any] = {
        **DEFAULTS,
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.group_id,
        "auto.commit.interval.ms": int(settings.commit_interval_seconds * 1000),
        **settings.options,
        **FIXED,
    }
    if settings.instance_id:
        config["group.instance.id"] = settings.instance_id
    stats = on_stats or record_lag
    # librdkafka's logs and errors always go through a bridge (structured, throttled, offset
    # resets counted): never raw text on stderr.
    logs = bridge if bridge is not None else KafkaLogBridge("consumer")
    config.update(logs.config())

    def both(stats_json: str) -> None:
        stats(stats_json)
        logs.on_stats(stats_json)

    config["stats_cb"] = both
    config["on_commit"] = _on_commit
    return config


def create_consumer(settings: KafkaSettings, bridge: KafkaLogBridge | None = None) -> Consumer:
    return Consumer(consumer_config(settings, bridge=bridge))


def record_lag(stats_json: str) -> None:
    """librdkafka statistics → `indexer_consumer_lag` per assigned partition.

    From the committed offset (`consumer_lag`), not the stored one (`consumer_lag_stored`):
    stored offsets are lost with the process, so only what is committed is really behind us
    (librdkafka STATISTICS.md). librdkafka says -1 while the partition has no commit yet.
    """
    stats = orjson.loads(stats_json)
    for topic, topic_stats in stats.get("topics", {}).items():
        for partition, p in topic_stats.get("partitions", {}).items():
            if partition == "-1" or p.get("fetch_state") in (None, "none", "stopped"):
                continue
            lag = p.get("consumer_lag", -1)
            if lag is not None and lag >= 0:
                metrics.CONSUMER_LAG.labels(topic, partition).set(lag)


def total_lag() -> float:
    """The sum of `indexer_consumer_lag` over the assigned partitions (0 before any is known)."""
    return sum(
        sample.value
        for family in metrics.CONSUMER_LAG.collect()
        for sample in family.samples
        if sample.name == "indexer_consumer_lag"
    )


def forget_lag(partitions: list[TopicPartition]) -> None:
    for tp in partitions:
        with contextlib.suppress(KeyError):
            metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))


def _on_commit(error: Any, partitions: list[TopicPartition]) -> None:
    if error is not None and error.code() == KafkaError._NO_OFFSET:
        return  # nothing new was stored since the last commit
    metrics.OFFSETS_COMMITTED.labels("error" if error else "ok").inc()
