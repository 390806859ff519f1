"""Consume: the Kafka consumer, configured for at-least-once.

Offsets are stored by the pipeline only after Elasticsearch acknowledged (or dead-lettered) every
message up to them (`enable.auto.offset.store=false`); librdkafka's background commit then commits
the stored offsets every `commit_interval_seconds`, and the pipeline forces a synchronous commit on
revoke and on shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import structlog
from confluent_kafka import Consumer, KafkaError, TopicPartition

from indexer import metrics
from indexer.settings import KafkaSettings

log = structlog.get_logger(__name__)

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
    settings: KafkaSettings, on_stats: Callable[[str], None] | None = None
) -> dict[str, Any]:
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
    config["stats_cb"] = on_stats or record_lag
    config["on_commit"] = _on_commit
    config["logger"] = KAFKA_LOGS
    return config


def create_consumer(settings: KafkaSettings) -> Consumer:
    return Consumer(consumer_config(settings))


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


# librdkafka's line for a reset forced by an error (rdkafka_offset.c, `rd_kafka_offset_reset`):
# "<topic> [<partition>]: offset reset (at offset 8 (leader epoch 8), broker 1) to offset
# BEGINNING (leader epoch -1): fetch failed due to requested offset not available on the broker:
# Broker: Offset out of range". It logs it at LOG_WARNING, facility OFFSET, only when an error
# caused the reset; a new group's start (no committed offset) is only debug-logged.
_RESET = re.compile(
    r"(?:\[thrd:[^\]]*\]: )?(?P<topic>.+) \[(?P<partition>-?\d+)\]: offset reset "
    r"\(at (?P<at>.*?), broker (?P<broker>-?\d+)\) to (?P<to>.*?): (?P<reason>.*)",
    re.DOTALL,
)


class KafkaLogs:
    """librdkafka's own log lines, as structured lines (`kafka_log`), and its offset resets
    counted (`indexer_offset_resets_total{topic}`) and logged as `offset_reset`.

    An offset reset after an out-of-range fetch means the committed (or current) position no
    longer exists on the broker: retention or a delete removed messages the group had not read,
    and the consumer jumped to `auto.offset.reset` (earliest). Those messages were never
    indexed, and nothing else says so: the lag even looks fine afterwards. librdkafka reports it
    only in this log line (no error event unless `auto.offset.reset=error`, which stops the
    partition instead), so the line is recognised here.

    confluent-kafka calls `log(level, "%s [%s] %s", facility, client name, text)` from the
    thread that polls (librdkafka's logs go to the consumer's queue when a logger is set)."""

    def log(self, level: int, fmt: str, *args: Any) -> None:
        if len(args) == 3:
            facility, text = str(args[0]), str(args[2])
        else:  # not confluent-kafka's shape: keep whatever it said
            facility, text = "", " ".join(str(part) for part in (fmt, *args))
        if facility == "OFFSET" and level >= logging.WARNING:
            found = _RESET.fullmatch(text)
            if found is not None:
                metrics.OFFSET_RESETS.labels(found["topic"]).inc()
                log.error(
                    "offset_reset",
                    topic=found["topic"],
                    partition=int(found["partition"]),
                    at=found["at"],
                    to=found["to"],
                    reason=found["reason"],
                )
                return
        log.log(level, "kafka_log", facility=facility, message=text)


KAFKA_LOGS = KafkaLogs()


def _on_commit(error: Any, partitions: list[TopicPartition]) -> None:
    if error is not None and error.code() == KafkaError._NO_OFFSET:
        return  # nothing new was stored since the last commit
    metrics.OFFSETS_COMMITTED.labels("error" if error else "ok").inc()
