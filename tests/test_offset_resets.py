"""A partition whose committed offset the broker no longer has (retention deleted messages the
group had not read) is reset by librdkafka to the earliest offset: counted in
`indexer_offset_resets_total{topic}` and logged as `offset_reset`, with the indexer still
storing everything it can still read.

The broker here is librdkafka's own mock cluster (`test.mock.num.brokers`, a Kafka-protocol
broker on a loopback socket), not Tansu: Tansu 0.6 answers a fetch beyond the end of a partition
with an empty batch instead of OFFSET_OUT_OF_RANGE and has no DeleteRecords (it drops the
connection), so no offset it holds can ever be out of range. The mock answers as Kafka does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from indexer.embedded import CompatProxy
from tests.support import IndexerProcess, count, days_ago, indexer_env, log_events, wait_for

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

TOPIC = "filebeat-reset"
STAMP = days_ago(1).strftime("%Y-%m-%dT10:00:00.000Z")


@pytest.fixture
def mock_broker() -> Iterator[str]:
    """A librdkafka mock cluster of one broker; its bootstrap address. It lives as long as the
    handle that created it."""
    owner = Producer({"test.mock.num.brokers": 1, "bootstrap.servers": ""})
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{broker.host}:{broker.port}" for broker in brokers)
    del owner


def test_an_offset_the_broker_no_longer_has_is_counted_logged_and_read_from_the_start(
    mock_broker: str, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    producer = Producer({"bootstrap.servers": mock_broker})
    path = "/data/logs/shop/cart/cart-7d4b9c8f6-bcd2f/log/app.log"
    for n in range(10):
        value = {"@timestamp": STAMP, "message": f"line {n}", "log": {"file": {"path": path}}}
        producer.produce(TOPIC, json.dumps(value).encode(), partition=0)
    assert producer.flush(10) == 0
    # The group's committed offset lies beyond what the partition holds: the broker answers
    # OFFSET_OUT_OF_RANGE, as Kafka does for an offset whose messages retention deleted.
    admin = AdminClient({"bootstrap.servers": mock_broker})
    request = [ConsumerGroupTopicPartitions("log-indexer", [TopicPartition(TOPIC, 0, 1000)])]
    for future in admin.alter_consumer_group_offsets(request).values():
        future.result(10)

    env = indexer_env(mock_broker, es_proxy.url, INDEXER_KAFKA__TOPICS=json.dumps([TOPIC]))
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 10, 60, "every message read from the start")
    wait_for(
        lambda: indexer.metric('indexer_offset_resets_total{topic="filebeat-reset"}') == 1,
        10,
        "the reset counted",
    )
    assert indexer.stop() == 0
    resets = log_events(indexer.log_lines(), "offset_reset")
    assert len(resets) == 1
    assert resets[0]["log.level"] == "error"
    assert (resets[0]["topic"], resets[0]["partition"]) == (TOPIC, 0)
    assert resets[0]["at"].startswith("offset 1000")
    assert "Offset out of range" in resets[0]["reason"]
    # librdkafka's other lines are structured too (none on stderr as its own `%4|…` format).
    raw = [line for line in (tmp_path / "i.log").read_text().splitlines() if line.startswith("%")]
    assert raw == []
