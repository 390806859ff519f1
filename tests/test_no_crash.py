"""No message, and no one index's answer, can crash the indexer: absurd Kafka timestamps are
clamped, dead letters are shrunk to what their destination accepts (keeping the original's size
and hash), and a refused namespace template is an outcome for that namespace's documents only.
Every test ends with the indexer still running, stopped cleanly, and its offsets committed."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from indexer.embedded import CompatProxy, Product, Reply, ServerProcess
from tests.support import (
    DEADLETTERS,
    STORED,
    IndexerProcess,
    cluster,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    decoded,
    documents,
    ends_of,
    indexer_env,
    produce_stamped,
    record_of,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

EVERYWHERE = "k8s-logs-*"
STAMP = (days_ago(1) + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
DAY = STAMP[:10].replace("-", ".")
BEYOND_9999 = 300_000_000_000_000  # ms: the year 11476


def _event(namespace: str, app: str, message: str) -> bytes:
    path = f"/data/logs/{namespace}/{app}/{app}-7d4b9c8f6-bcd2f/log/app.log"
    return json.dumps(
        {"@timestamp": STAMP, "message": message, "log": {"file": {"path": path}}}
    ).encode()


def _finish(indexer: IndexerProcess, bootstrap: str, produced: dict[str, bytes]) -> None:
    """The indexer is still running, stops cleanly, and committed past every message."""
    assert indexer.proc is not None and indexer.proc.poll() is None, "the indexer exited"
    assert indexer.stop() == 0
    assert committed_offsets(bootstrap) == ends_of(produced)


def _read_topic(bootstrap: str, topic: str, expected: int) -> list[Message]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "check", "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    found: list[Message] = []
    deadline = time.monotonic() + 20
    while len(found) < expected and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            found.append(message)
    consumer.close()
    assert len(found) == expected, f"{len(found)} of {expected} messages in {topic}"
    return found


# 1. Kafka timestamps ------------------------------------------------------------------------


def test_absurd_kafka_timestamps_are_clamped_and_every_message_is_stored_or_dead_lettered(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-ts", 1)
    records = [
        (_event("shop", "cart", "beyond 9999"), BEYOND_9999),
        (_event("shop", "cart", "2^62"), 2**62),
        (_event("shop", "cart", "negative"), -5),
        (b"not JSON, stamped beyond 9999", BEYOND_9999),
        (json.dumps({"message": "no time, no path"}).encode(), BEYOND_9999),
        (_event("shop", "cart", "an ordinary one"), None),
    ]
    produced = produce_stamped(bootstrap, "filebeat-ts", records)
    ids = list(produced)
    env = indexer_env(bootstrap, es_proxy.url)
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= len(produced), 60, "every message")
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") == 1, 10, "the count")
    _finish(indexer, bootstrap, produced)

    found = documents(es_proxy.url, EVERYWHERE)
    assert found.keys() == produced.keys()
    # Bounds of the routing are relative to the Kafka time, so the event's own time is beyond
    # them: the event goes to the clamped Kafka day and keeps its @timestamp.
    for doc_id in ids[:2]:
        index, source = found[doc_id]
        assert index == "k8s-logs-shop_cart-9999.12.31"
        assert source["message"] == decoded(produced[doc_id])["message"]
        assert source["@timestamp"] == STAMP
    # Before 2000, a clock never set: the bounds are measured from the time of consumption, so
    # the event's own time (yesterday) picks the day (tests/test_timestamps.py: 1970 throughout).
    assert found[ids[2]][0] == f"k8s-logs-shop_cart-{DAY}"
    index, letter = found[ids[3]]
    assert index == "k8s-logs-deadletter-9999.12.31"
    assert letter["error"]["type"] == "invalid_json"
    assert letter["event"]["original"] == produced[ids[3]].decode()
    assert letter["@timestamp"].startswith("9999-12-31T23:59:59.99")  # (float milliseconds)
    index, unmatched = found[ids[4]]
    assert index == "k8s-logs-unmatched-9999.12.31"
    assert unmatched["@timestamp"].startswith("9999-12-31T23:59:59.99")  # the clamp, for Kibana
    assert found[ids[5]][0] == f"k8s-logs-shop_cart-{DAY}"


# 2. Dead letters shrunk to what their destination accepts ------------------------------------

HUGE = b"not JSON " + b"y" * 1_200_000  # over Kafka's default 1,000,000-byte producer limit


def _check_original(kept: bytes, size: str | int, sha256: str, limit: int) -> None:
    assert HUGE.startswith(kept) and len(kept) == limit
    assert int(size) == len(HUGE)
    assert sha256 == hashlib.sha256(HUGE).hexdigest()


def test_a_huge_dead_letter_to_a_kafka_topic_is_shrunk_to_fit_and_keeps_the_originals_hash(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-big", 1)
    create_topic(bootstrap, "deadletters", 1)
    produced = produce_stamped(
        bootstrap, "filebeat-big", [(HUGE, None), (_event("shop", "cart", "ok"), None)]
    )
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_DEADLETTER__TOPIC="deadletters")
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 1, 40, "the good event")
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") >= 1, 40, "the letter")
    _finish(indexer, bootstrap, produced)

    (letter,) = _read_topic(bootstrap, "deadletters", 1)
    headers = {key: value.decode() for key, value in letter.headers() or []}
    _check_original(
        letter.value() or b"", headers["original.size"], headers["original.sha256"], 900_000
    )
    assert headers["original.truncated"] == "true"
    assert headers["error.type"] == "invalid_json"
    assert headers["source.offset"] == "0"
    assert set(documents(es_proxy.url, EVERYWHERE)) == {"filebeat-big:0:1"}


def test_a_dead_letter_the_producer_still_refuses_as_too_large_is_halved_until_it_fits(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # The operator's librdkafka options lower message.max.bytes below the dead-letter limit:
    # 900,000 is refused (MSG_SIZE_TOO_LARGE), so is 450,000; 225,000 goes through.
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-big", 1)
    create_topic(bootstrap, "deadletters", 1)
    produced = produce_stamped(bootstrap, "filebeat-big", [(HUGE, None)])
    options = json.dumps(
        {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "message.max.bytes": 300_000}
    )
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_DEADLETTER__TOPIC="deadletters",
        INDEXER_KAFKA__OPTIONS=options,
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") >= 1, 40, "the letter")
    _finish(indexer, bootstrap, produced)
    (letter,) = _read_topic(bootstrap, "deadletters", 1)
    headers = {key: value.decode() for key, value in letter.headers() or []}
    _check_original(
        letter.value() or b"", headers["original.size"], headers["original.sha256"], 225_000
    )


def test_a_huge_dead_letter_in_the_dead_letter_index_is_shrunk_until_the_cluster_takes_it(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # The cluster takes bodies up to 300 kB (its http.max_content_length, or a proxy's limit)
    # and answers a larger one as Elasticsearch does: 413, no body, connection closed. The huge
    # message is dead-lettered keeping 900,000 bytes, refused, then 450,000, refused, then
    # 225,000; the 1 MB event is refused whole (request_entity_too_large) and its dead letter
    # shrinks the same way.
    too_large = Reply(413, b"", close=True)
    es_proxy.fault = lambda m, p, body: too_large if "_bulk" in p and len(body) > 300_000 else None
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-big", 1)
    big_event = _event("shop", "cart", "z" * 1_000_000)
    records = [(HUGE, None), (big_event, None), (_event("shop", "cart", "ok"), None)]
    produced = produce_stamped(bootstrap, "filebeat-big", records)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= 3, 60, "every message")
    _finish(indexer, bootstrap, produced)

    letters = documents(es_proxy.url, DEADLETTERS)
    assert set(letters) == {"filebeat-big:0:0", "filebeat-big:0:1"}
    _, letter = letters["filebeat-big:0:0"]
    assert letter["error"]["type"] == "invalid_json"
    about = letter["deadletter"]
    _check_original(
        letter["event"]["original"].encode(),
        about["original_size"],
        about["original_sha256"],
        225_000,
    )
    assert about["truncated"] is True
    _, letter = letters["filebeat-big:0:1"]
    assert letter["error"]["type"] == "request_entity_too_large"
    assert letter["deadletter"]["original_size"] == len(big_event)
    assert letter["deadletter"]["original_sha256"] == hashlib.sha256(big_event).hexdigest()
    assert big_event.decode().startswith(letter["event"]["original"])
    assert set(documents(es_proxy.url, STORED)) == {"filebeat-big:0:2"}
    accepted = [len(r.body) for r in es_proxy.requests if "_bulk" in r.path]
    assert min(accepted) < 300_000


def test_the_dead_letter_index_maps_the_size_hash_and_truncation_of_the_original(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-big", 1)
    produced = produce_stamped(bootstrap, "filebeat-big", [(HUGE, None), (b"small garbage", None)])
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, DEADLETTERS) >= 2, 40, "both dead letters")
    _finish(indexer, bootstrap, produced)
    es = cluster(es_proxy.url)
    try:
        answer = es.request(
            "POST",
            f"/{DEADLETTERS}/_search",
            {
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"deadletter.truncated": True}},
                            {
                                "term": {
                                    "deadletter.original_sha256": hashlib.sha256(HUGE).hexdigest()
                                }
                            },
                            {"range": {"deadletter.original_size": {"gt": 1_000_000}}},
                        ]
                    }
                }
            },
        )
    finally:
        es.close()
    assert [record_of(hit["_source"]) for hit in answer["hits"]["hits"]] == ["filebeat-big:0:0"]


# 3. A refused namespace template ------------------------------------------------------------

# How each product words the refusal of a template to an API key without the privilege.
SECURITY_REASON = {
    "elasticsearch": "action [indices:admin/index_template/put] is unauthorized for API key id "
    "[x1] of user [log-indexer], this action is granted by the cluster privileges "
    "[manage_index_templates,manage,all]",
    "opensearch": "no permissions for [indices:admin/index_template/put] and User "
    "[name=log-indexer, backend_roles=[], requestedTenant=null]",
}


def _security_exception(product: Product) -> Reply:
    error = {"type": "security_exception", "reason": SECURITY_REASON[product]}
    body = {"error": {"root_cause": [error], **error}, "status": 403}
    return Reply(403, json.dumps(body).encode())


def _tenants() -> list[tuple[bytes, int | None]]:
    return [
        (_event(namespace, app, f"{namespace}/{app} line {n}"), None)
        for n in range(20)
        for namespace, app in (("pay", "api"), ("shop", "cart"), ("pay", "web"), ("dev", "x"))
    ]


@pytest.mark.dialect  # each product words the refusal its own way (SECURITY_REASON)
def test_a_403_on_one_namespaces_template_dead_letters_that_namespace_and_no_other(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path, product: Product
) -> None:
    refused = _security_exception(product)
    es_proxy.fault = lambda m, p, b: (
        refused if m == "PUT" and p.startswith("/_index_template/k8s-logs-ns-pay") else None
    )
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-ns", 1)
    produced = produce_stamped(bootstrap, "filebeat-ns", _tenants())
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_LIFECYCLE__MODE="sweeper",
        INDEXER_LIFECYCLE__NAMESPACE_POLICIES=json.dumps(
            {"pay": "k8s-logs-30d", "shop": "k8s-logs-30d"}
        ),
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= len(produced), 60, "every message")
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") == 40, 10, "the count")
    _finish(indexer, bootstrap, produced)

    stored = documents(es_proxy.url, STORED)
    letters = documents(es_proxy.url, DEADLETTERS)
    assert stored.keys() | letters.keys() == produced.keys()
    for doc_id, (index, source) in stored.items():
        assert source["message"] == decoded(produced[doc_id])["message"]
        assert not index.startswith("k8s-logs-pay_"), index
    assert {i for i, _ in stored.values()} == {f"k8s-logs-shop_cart-{DAY}", f"k8s-logs-dev_x-{DAY}"}
    assert len(letters) == 40
    for doc_id, (_, letter) in letters.items():
        app = decoded(produced[doc_id])["log"]["file"]["path"].split("/")[4]
        assert letter["error"]["type"] == "security_exception"
        assert letter["error"]["message"] == (
            f"namespace template k8s-logs-ns-pay: {SECURITY_REASON[product]}"
        )
        assert letter["deadletter"]["target_index"] == f"k8s-logs-pay_{app}-{DAY}"
        assert letter["event"]["original"] == produced[doc_id].decode()
    es = cluster(es_proxy.url)
    try:
        indices = {
            row["index"] for row in es.request("GET", "/_cat/indices", params={"format": "json"})
        }
    finally:
        es.close()
    assert not any("-ns-" in name or name.startswith("k8s-logs-pay") for name in indices), indices


def test_a_transient_refusal_of_a_namespace_template_is_retried_and_nothing_is_dead_lettered(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    unavailable = Reply(
        503, b'{"error":{"type":"master_not_discovered_exception","reason":"none"},"status":503}'
    )
    answered = {"count": 0}

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if path.startswith("/_index_template/k8s-logs-ns-pay") and answered["count"] < 4:
            answered["count"] += 1
            return unavailable
        return None

    es_proxy.fault = rule
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-ns", 1)
    produced = produce_stamped(bootstrap, "filebeat-ns", _tenants())
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_LIFECYCLE__MODE="sweeper",
        INDEXER_LIFECYCLE__NAMESPACE_POLICIES=json.dumps({"pay": "k8s-logs-30d"}),
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 60, "every message stored")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    _finish(indexer, bootstrap, produced)
    assert answered["count"] == 4
    assert count(es_proxy.url, DEADLETTERS) == 0
    stored = documents(es_proxy.url, STORED)
    assert stored.keys() == produced.keys()
    for doc_id, (_, source) in stored.items():
        assert source["message"] == decoded(produced[doc_id])["message"]


@pytest.mark.dialect  # each product words the refusal its own way (SECURITY_REASON)
def test_a_403_on_creating_one_apps_index_dead_letters_that_app_and_no_other(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path, product: Product
) -> None:
    refused = _security_exception(product)
    target = f"/k8s-logs-pay_api-{DAY}"
    es_proxy.fault = lambda m, p, b: refused if m == "PUT" and p.split("?")[0] == target else None
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-ix", 1)
    produced = produce_stamped(bootstrap, "filebeat-ix", _tenants())
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, EVERYWHERE) >= len(produced), 60, "every message")
    wait_for(lambda: indexer.metric("indexer_events_deadlettered_total") == 20, 10, "the count")
    _finish(indexer, bootstrap, produced)

    letters = documents(es_proxy.url, DEADLETTERS)
    stored = documents(es_proxy.url, STORED)
    assert stored.keys() | letters.keys() == produced.keys() and len(letters) == 20
    for _, letter in letters.values():
        assert letter["error"]["type"] == "security_exception"
        assert letter["error"]["message"] == SECURITY_REASON[product]
        assert letter["deadletter"]["target_index"] == f"k8s-logs-pay_api-{DAY}"
    for doc_id, (index, source) in stored.items():
        assert index != f"k8s-logs-pay_api-{DAY}"
        assert source["message"] == decoded(produced[doc_id])["message"]
