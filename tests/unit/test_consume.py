"""The consumer's statistics callback: lag from committed offsets, as librdkafka defines them."""

from __future__ import annotations

import logging

import orjson

from indexer import metrics
from indexer.consume import consumer_config, record_lag
from indexer.kafka_log import KafkaLogBridge
from indexer.settings import KafkaSettings


def _stats(**partition: int | str) -> str:
    p = {"fetch_state": "active", **partition}
    return orjson.dumps({"topics": {"filebeat-lag": {"partitions": {"0": p, "-1": {}}}}}).decode()


def _lag() -> float:
    return float(metrics.CONSUMER_LAG.labels("filebeat-lag", "0")._value.get())


def test_lag_counts_from_the_committed_offset_not_the_stored_one() -> None:
    # Stored up to 990 but committed only up to 400 (say commits are failing): 600 messages
    # would be read again after a restart, so the lag is 600, not 10.
    record_lag(
        _stats(
            hi_offset=1000,
            stored_offset=990,
            committed_offset=400,
            consumer_lag=600,
            consumer_lag_stored=10,
        )
    )
    assert _lag() == 600


def test_a_partition_without_a_commit_yet_keeps_its_last_reading() -> None:
    record_lag(_stats(hi_offset=50, committed_offset=40, consumer_lag=10, consumer_lag_stored=0))
    record_lag(_stats(hi_offset=50, committed_offset=-1001, consumer_lag=-1, consumer_lag_stored=5))
    assert _lag() == 10


def test_librdkafka_log_lines_are_structured_and_only_an_error_reset_counts() -> None:
    """The recognised line is librdkafka's own (rdkafka_offset.c); the end-to-end test with a
    broker is tests/test_offset_resets.py."""
    logger = consumer_config(KafkaSettings())["logger"]  # every consumer logs through a bridge
    assert logger is not None
    bridge = KafkaLogBridge("consumer", interval_seconds=3600)
    logs = bridge.config()["logger"]
    counter = metrics.OFFSET_RESETS.labels("t-unit")
    before = counter._value.get()
    reset = (
        "[thrd:main]: t-unit [3]: offset reset (at offset 1000 (leader epoch 0), broker 1) to "
        "cached BEGINNING offset offset 0 (leader epoch -1): fetch failed due to requested "
        "offset not available on the broker: Broker: Offset out of range"
    )
    logs.log(logging.WARNING, "%s [%s] %s", "OFFSET", "rdkafka#consumer-1", reset)
    assert counter._value.get() == before + 1
    # The same words at debug level (a new group's start) and other facilities do not count.
    logs.log(logging.DEBUG, "%s [%s] %s", "OFFSET", "rdkafka#consumer-1", reset)
    logs.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", reset)
    logs.log(logging.ERROR, "odd %s", "shape")
    assert counter._value.get() == before + 1
