"""Behaviours docs/failure-handling.md promises, each decided by a fault the proxy injects in
front of the real server (and the real broker): what is stored, what is dead-lettered and what
is committed are read back from the servers, never from the indexer's own account."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, Reply, ServerProcess
from indexer.sample import sources, stream
from tests.support import (
    DEADLETTERS,
    FAST_GROUP,
    IndexerProcess,
    cluster,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    expected_source,
    indexer_env,
    log_events,
    produce,
    wait_for,
)
from tests.support.faults import AutoCreateOff, RefuseItemsInto

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

DAY = days_ago(1)
TOPIC = "filebeat-d"


def _events(n: int, seed: int) -> list[bytes]:
    return [v for _, v in stream(sources(2, 2, 2), n, DAY, days=1, seed=seed)]


def _assert_stored_as_produced(es_url: str, produced: dict[str, bytes]) -> None:
    stored = documents(es_url)
    assert stored.keys() == produced.keys()
    for record, (_, source) in stored.items():
        assert source["message"] == expected_source(produced[record])["message"], record


@pytest.mark.parametrize("product", ["elasticsearch"])
def test_an_index_deleted_behind_the_indexer_is_re_created_and_its_items_retried(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 2)
    rule = AutoCreateOff(es_server.port)
    es_proxy.fault = rule
    first = produce(bootstrap, TOPIC, _events(200, seed=1), partitions=2)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(first), 60, "the first batch stored")
    assert rule.refused == []  # every index was created before its first write
    apps = sorted({index for index, _ in documents(es_proxy.url).values()})

    # Lifecycle (or an operator) deletes the day's indices; the indexer still has them cached.
    es = cluster(es_server_url := f"http://127.0.0.1:{es_server.port}")
    es.request("DELETE", "/" + ",".join(apps))
    es.close()
    rule.deleted(*apps)
    es_proxy.requests.clear()
    second = produce(bootstrap, TOPIC, _events(200, seed=2), partitions=2)
    wait_for(lambda: count(es_proxy.url) >= len(second), 60, "the second batch stored")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    assert indexer.stop() == 0

    assert set(rule.refused) == set(apps)  # the cached indices really were gone
    puts = {r.path.split("?")[0].strip("/") for r in es_proxy.requests if r.method == "PUT"}
    assert set(apps) <= puts  # each was created again
    _assert_stored_as_produced(es_server_url, second)
    assert count(es_server_url, DEADLETTERS) == 0
    assert committed_offsets(bootstrap) == ends_of({**first, **second})


def test_one_document_too_large_for_any_request_is_dead_lettered_as_request_entity_too_large(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    limit = 40_000
    # Elasticsearch's own 413: no body, then it closes the connection (REAL-CLUSTERS.md §8).
    too_large = Reply(413, b"", close=True)
    es_proxy.fault = lambda m, p, body: too_large if "_bulk" in p and len(body) > limit else None
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 1)
    values = _events(300, seed=3)
    big = json.loads(values[150])
    big["message"] = "x" * (2 * limit)
    values[150] = json.dumps(big).encode()
    produced = produce(bootstrap, TOPIC, values, partitions=1)
    giant = next(record for record, value in produced.items() if value == values[150])

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url, DEADLETTERS) >= 1, 60, "the giant dead-lettered")
    wait_for(lambda: count(es_proxy.url) >= len(produced) - 1, 60, "the rest stored")
    assert indexer.stop() == 0

    rest = {record: value for record, value in produced.items() if record != giant}
    _assert_stored_as_produced(es_proxy.url, rest)
    letters = documents(es_proxy.url, DEADLETTERS)
    assert letters.keys() == {giant}
    letter = letters[giant][1]
    assert letter["error"]["type"] == "request_entity_too_large"
    assert committed_offsets(bootstrap) == ends_of(produced)
    bulks = [len(r.body) for r in es_proxy.requests if "_bulk" in r.path]
    assert any(size > limit for size in bulks)  # it was tried, and split down to itself


STRICT = {
    "type": "strict_dynamic_mapping_exception",
    "reason": "[1:2] mapping set to strict, dynamic introduction of [error] within [_doc] is "
    "not allowed",
}


def test_the_dead_letter_index_refusing_a_letter_stops_the_indexer_without_committing(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    rule = RefuseItemsInto(es_server.port, "k8s-logs-deadletter-", 400, STRICT)
    es_proxy.fault = rule
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 1)
    values = _events(100, seed=4)
    values[50] = b"not json"
    produced = produce(bootstrap, TOPIC, values, partitions=1)
    poison = next(int(r.rsplit(":", 1)[1]) for r, v in produced.items() if v == b"not json")

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    assert indexer.proc is not None
    assert indexer.proc.wait(60) != 0
    assert rule.refused >= 1
    exiting = log_events(indexer.log_lines(), "exiting")
    assert exiting and "dead-letter" in exiting[0]["reason"]
    # Nothing at or after the poison message was committed: a restart reads it again.
    assert committed_offsets(bootstrap).get((TOPIC, 0), 0) <= poison
    assert count(es_proxy.url, DEADLETTERS) == 0


def test_below_the_shard_reserve_every_app_is_written_through_the_bulk_writer_into_its_shared_index(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 2)
    produced = produce(bootstrap, TOPIC, _events(300, seed=5), partitions=2)
    # No new app index can keep a reserve this large: each app goes to its namespace's index.
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_LIFECYCLE__SHARD_RESERVE=str(10**6))
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 60, "everything stored")
    fallbacks = indexer.metric("indexer_shard_budget_fallback_total")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    assert indexer.stop() == 0

    _assert_stored_as_produced(es_proxy.url, produced)
    stored = documents(es_proxy.url)
    assert {index.split("-2")[0] for index, _ in stored.values()} == {
        "k8s-logs-payments__shared",
        "k8s-logs-orders__shared",
    }
    assert fallbacks >= 4  # two apps in each of two namespaces
    bulk_targets = {
        json.loads(line)["create"]["_index"]
        for r in es_proxy.requests
        if "_bulk" in r.path
        for line in r.body.splitlines()[::2]
    }
    assert all("__shared-" in index for index in bulk_targets)  # retargeted in the writer
    assert count(es_proxy.url, DEADLETTERS) == 0
    assert committed_offsets(bootstrap) == ends_of(produced)


@pytest.mark.parametrize("product", ["elasticsearch"])
def test_no_rebalance_happens_while_backpressure_keeps_the_indexer_paused(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 2)
    produced = produce(bootstrap, TOPIC, _events(6000, seed=6), partitions=2)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS="2",
        INDEXER_BATCH__MAX_BUFFERED_BYTES=str(1024 * 1024),
        INDEXER_BATCH__MAX_DOCS="200",
        # A member that stops polling for 8 s leaves the group: the freeze below lasts longer.
        INDEXER_KAFKA__OPTIONS=json.dumps({**FAST_GROUP, "max.poll.interval.ms": 8000}),
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 200, 30, "indexing under way")
    es_server.pause()
    try:
        wait_for(lambda: indexer.metric("indexer_paused") == 1, 15, "the indexer to pause")
        time.sleep(18)  # past the session timeout and the poll interval, twice over
        assert indexer.metric("indexer_paused") == 1
    finally:
        es_server.resume()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 60, "the rest stored after resume")
    before_stop = [line["event"]["action"] for line in log_events(indexer.log_lines())]
    assert indexer.stop() == 0

    assert before_stop.count("partitions_assigned") == 1
    assert "partitions_revoked" not in before_stop and "partitions_lost" not in before_stop
    _assert_stored_as_produced(es_proxy.url, produced)
    assert committed_offsets(bootstrap) == ends_of(produced)
