"""Poison input and unusual clusters: every message is indexed or dead-lettered with its reason,
and indices are created explicitly before anything is written into them."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, Product, Reply, ServerProcess
from tests.support import (
    DEADLETTERS,
    PARSING_ERROR,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    indexer_env,
    produce,
    spawned_core,
    wait_for,
)
from tests.support.faults import AutoCreateOff

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

PATH = "/data/logs/shop/cart/cart-7d4b9c8f6-bcd2f/log/app.log"
EVERYWHERE = "k8s-logs-*"  # stored events and dead letters alike
STAMP = (days_ago(1) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
DAY = STAMP[:10].replace("-", ".")


def _event(**fields: object) -> bytes:
    event = {
        "@timestamp": STAMP,
        "message": "fine",
        "log": {"file": {"path": PATH}},
        **fields,
    }
    return json.dumps(event).encode()


POISON: dict[str, bytes] = {
    "not_json": b"this is not JSON at all",
    "array": b'[{"message": "an array of events"}]',
    "scalar": b"42",
    "invalid_utf8": b'{"message": "\xff\xfe broken"}',
    "empty_object": b"{}",
    "no_path": b'{"@timestamp":"%s","message":"no log.file.path"}' % STAMP.encode(),
    "unmatched_path": _event(log={"file": {"path": "/var/log/messages"}}),
    "traversal_path": _event(log={"file": {"path": "/data/logs/../etc/x/y/log/a.log"}}),
    "illegal_names": _event(log={"file": {"path": "/data/logs/_all/.kibana/p/log/a.log"}}),
    "bad_timestamp": _event(**{"@timestamp": "yesterday at noon"}),
    "object_first": _event(custom={"nested": 1}),
    "conflicting_type": _event(custom="a string where an object is mapped"),
    "one_megabyte": _event(message="x" * 1_000_000),
}


@pytest.mark.reference_core
def test_every_poison_message_is_indexed_or_dead_lettered_with_its_reason(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-poison", 1)
    ingested = {datetime.now(UTC).strftime("%Y.%m.%d")}
    produced = produce(bootstrap, "filebeat-poison", POISON.values(), partitions=1)
    ingested.add(datetime.now(UTC).strftime("%Y.%m.%d"))
    by_name = dict(zip(POISON, produced, strict=True))  # one partition: produce order

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= len(POISON), 60, "every message to land")
    assert indexer.core() == spawned_core()
    assert indexer.stop() == 0

    found = documents(es_proxy.url, EVERYWHERE)
    assert found.keys() == produced.keys()

    def letter(name: str) -> dict[str, object]:
        index, source = found[by_name[name]]
        # The dead-letter index of the day it was ingested (its Kafka timestamp), in full.
        assert index in {f"k8s-logs-deadletter-{day}" for day in ingested}, (name, index)
        assert source["kafka"] == {
            "topic": "filebeat-poison",
            "partition": 0,
            "offset": int(by_name[name].rsplit(":", 1)[1]),
        }
        return source

    assert letter("not_json")["error"]["type"] == "invalid_json"
    assert letter("not_json")["event"]["original"] == POISON["not_json"].decode()
    assert letter("array")["error"]["type"] == "not_an_object"
    assert letter("scalar")["error"]["type"] == "not_an_object"
    invalid = letter("invalid_utf8")
    assert invalid["error"]["type"] == "invalid_utf8"
    assert base64.b64decode(invalid["event"]["original_base64"]) == POISON["invalid_utf8"]
    index, salvaged = found[by_name["conflicting_type"]]
    assert index == f"k8s-logs-shop_cart-{DAY}"
    assert "custom" not in salvaged
    assert json.loads(salvaged["indexer_salvage"]["fields"]) == {
        "custom": "a string where an object is mapped"
    }
    # Elasticsearch 8.8+ calls it document_parsing_exception, OpenSearch mapper_parsing_exception
    reason = salvaged["indexer_salvage"]["reason"]
    assert reason.startswith(("mapper_parsing_exception: ", "document_parsing_exception: "))
    assert salvaged["message"] == "fine" and salvaged["kubernetes"]["namespace"] == "shop"
    for name in ("empty_object", "no_path", "unmatched_path", "traversal_path", "illegal_names"):
        assert found[by_name[name]][0].startswith("k8s-logs-unmatched-"), name
    index, source = found[by_name["bad_timestamp"]]
    assert index in {f"k8s-logs-shop_cart-{day}" for day in ingested}  # the Kafka timestamp's day
    # Not a date: the Kafka time (the day of ingestion) replaces it, and it is kept aside.
    assert source["@timestamp"][:10].replace("-", ".") in ingested
    assert source["indexer_timestamp"] == {"original": "yesterday at noon", "reason": "not_a_date"}
    assert found[by_name["object_first"]][0] == f"k8s-logs-shop_cart-{DAY}"
    index, source = found[by_name["one_megabyte"]]
    assert index == f"k8s-logs-shop_cart-{DAY}" and len(source["message"]) == 1_000_000

    deadlettered = sum(1 for i, _ in found.values() if i.startswith("k8s-logs-deadletter-"))
    assert deadlettered == 4


def test_a_document_refused_again_after_salvage_is_dead_lettered_with_both_reasons(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path, product: Product
) -> None:
    refusal = {
        "create": {
            "status": 400,
            "error": {"type": "mapper_parsing_exception", "reason": "salvage refused by the test"},
        }
    }

    def refuse_salvaged(method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" in path and b"indexer_salvage" in body:
            items = [refusal] * (len(body.splitlines()) // 2)
            return Reply(200, json.dumps({"errors": True, "items": items}).encode())
        return None

    es_proxy.fault = refuse_salvaged
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-s", 1)
    values = [POISON["object_first"], POISON["conflicting_type"]]
    produced = produce(bootstrap, "filebeat-s", values, partitions=1)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= 2, 60, "both messages to land")
    assert indexer.stop() == 0
    found = documents(es_proxy.url, EVERYWHERE)
    assert found.keys() == produced.keys()
    index, letter = found["filebeat-s:0:1"]
    assert index.startswith("k8s-logs-deadletter-")
    assert letter["error"]["type"] == PARSING_ERROR[product]
    assert "salvaged copy refused too" in letter["error"]["message"]
    assert letter["event"]["original"] == POISON["conflicting_type"].decode()


def test_with_auto_create_off_each_index_is_created_before_the_first_write_into_it(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # osmem ignores action.auto_create_index; the rule answers as Elasticsearch does with it off.
    rule = AutoCreateOff(es_server.port)
    es_proxy.fault = rule
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-x", 2)
    values = [
        _event(log={"file": {"path": f"/data/logs/ns{n}/app{a}/app{a}-0/log/a.log"}})
        for n in range(3)
        for a in range(2)
    ] + [b"not json"]
    produced = produce(bootstrap, "filebeat-x", values, partitions=2)

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= len(produced), 60, "everything to land")
    # A document is searchable before the poll loop has counted its bulk's answer.
    letters = "indexer_events_deadlettered_total"
    wait_for(lambda: indexer.metric(letters) >= 1, 10, "the dead letter to be counted")
    deadlettered = indexer.metric(letters)
    assert indexer.stop() == 0

    assert rule.refused == []  # no write met a missing index
    assert len(rule.created) == 7  # six apps and the dead-letter index
    poison = next(record for record, value in produced.items() if value == b"not json")
    events = {record: value for record, value in produced.items() if record != poison}
    stored = documents(es_proxy.url)
    assert stored.keys() == events.keys()
    for record, (_, source) in stored.items():
        assert source["message"] == json.loads(events[record])["message"], record
    assert documents(es_proxy.url, DEADLETTERS).keys() == {poison}  # only the poison message
    assert deadlettered == 1
    assert committed_offsets(bootstrap) == ends_of(produced)


def test_dead_letters_can_go_to_a_kafka_topic_with_the_original_bytes_and_the_reason_in_headers(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-t", 1)
    create_topic(bootstrap, "deadletters", 1)
    values = [POISON["not_json"], POISON["invalid_utf8"], _event(message="good")]
    produced = produce(bootstrap, "filebeat-t", values, partitions=1)
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_DEADLETTER__TOPIC="deadletters")
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") >= 2, 30, "dead letters")
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= 1, 30, "the good event")
    assert indexer.stop() == 0
    assert set(documents(es_proxy.url, EVERYWHERE)) == {
        "filebeat-t:0:2"
    }  # no dead-letter index documents

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "check", "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition("deadletters", 0, 0)])
    letters = []
    deadline = time.monotonic() + 20
    while len(letters) < 2 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            letters.append(message)
    consumer.close()
    assert [m.value() for m in letters] == [produced["filebeat-t:0:0"], produced["filebeat-t:0:1"]]
    headers = [dict(m.headers()) for m in letters]
    assert headers[0]["error.type"] == b"invalid_json"
    assert headers[1]["error.type"] == b"invalid_utf8"
    assert headers[1]["source.topic"] == b"filebeat-t"
    assert headers[1]["source.offset"] == b"1"
