"""End to end, on the real broker and ES-API server: every produced event is found exactly once,
in the right index, with the right Kubernetes fields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from indexer.embedded import CompatProxy, Reply, ServerProcess
from indexer.sample import sources, stream
from tests.support import (
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    expected_source,
    finish_and_check,
    indexer_env,
    log_events,
    produce,
    produce_sample,
    spawned_core,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

DAY1 = days_ago(2)


@pytest.mark.reference_core
def test_ten_thousand_events_over_three_partitions_are_each_indexed_once_in_their_daily_index(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-apps", 3)
    srcs = sources(namespaces=2, apps=3, pods=2)
    values = [value for _, value in stream(srcs, 10_000, DAY1, days=2)]
    produced = produce(bootstrap, "filebeat-apps", values, partitions=3)

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 90, "all events indexed")
    wait_for(lambda: indexer.metric("indexer_events_indexed_total") >= len(produced), 10, "metrics")
    assert indexer.metric("indexer_events_consumed_total") == len(produced)
    assert indexer.metric("indexer_events_duplicate_total") == 0
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    assert indexer.metric("indexer_namespace_documents_total") == len(produced)
    assert indexer.metric("indexer_event_latency_seconds_count") > 0
    assert indexer.metric("indexer_bulk_last_success_timestamp_seconds") > 0
    assert indexer.core() == spawned_core()
    # Lag comes from librdkafka's statistics (every 5 s): present for each partition, and zero.
    wait_for(
        lambda: indexer.metric_samples("indexer_consumer_lag") == {"0": 0.0, "1": 0.0, "2": 0.0},
        20,
        "consumer lag of 0 on every partition",
    )
    assert indexer.stop() == 0
    assert committed_offsets(bootstrap) == ends_of(produced)

    found = documents(es_proxy.url)
    assert found.keys() == produced.keys()
    indices = {index for index, _ in found.values()}
    assert len(indices) == 12  # 6 (namespace, app) pairs, 2 days each
    for doc_id, (index, source) in found.items():
        event = expected_source(produced[doc_id])
        path = event["log"]["file"]["path"]
        _, _, _, namespace, app, pod, *_ = path.split("/")
        day = event["@timestamp"][:10].replace("-", ".")
        assert index == f"k8s-logs-{namespace}_{app}-{day}"
        assert source["kubernetes"]["namespace"] == namespace
        assert source["kubernetes"]["pod"]["name"] == pod
        assert source["service"]["name"] == app
        assert source["message"] == event["message"]
        assert source["agent"] == event["agent"]


def _setup(kafka: ServerProcess, partitions: int, events: int) -> tuple[str, dict[str, bytes]]:
    bootstrap = f"127.0.0.1:{kafka.port}"
    produced = produce_sample(bootstrap, "filebeat-apps", partitions, events, DAY1, 2, (2, 3, 2))
    return bootstrap, produced


def _slow_bulks(seconds: float) -> Callable[[str, str, bytes], Reply | None]:
    def rule(method: str, path: str, body: bytes) -> Reply | None:
        return Reply(forward=True, delay=seconds) if "_bulk" in path else None

    return rule


def test_replaying_the_topic_from_the_beginning_stores_nothing_twice(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _setup(kafka, partitions=3, events=3000)
    env = indexer_env(bootstrap, es_proxy.url)
    first = IndexerProcess(env, tmp_path / "first.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 60, "first pass indexed")
    assert first.stop() == 0

    admin = AdminClient({"bootstrap.servers": bootstrap})
    reset = [TopicPartition("filebeat-apps", p, 0) for p in range(3)]
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("log-indexer", reset)])[
        "log-indexer"
    ].result(10)

    second = IndexerProcess(env, tmp_path / "second.log").start()
    wait_for(
        lambda: second.metric("indexer_events_duplicate_total") >= len(produced),
        60,
        "the replay to reach the end",
    )
    assert second.metric("indexer_events_indexed_total") == 0
    assert second.stop() == 0
    assert documents(es_proxy.url).keys() == produced.keys()
    assert committed_offsets(bootstrap) == ends_of(produced)


@pytest.mark.reference_core
def test_kill_9_while_bulks_are_in_flight_then_restart_indexes_everything_exactly_once(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _setup(kafka, partitions=3, events=6000)
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_BATCH__MAX_DOCS="300")
    es_proxy.fault = _slow_bulks(0.3)
    victim = IndexerProcess(env, tmp_path / "victim.log").start()
    wait_for(lambda: count(es_proxy.url) >= 1500, 60, "a third indexed")
    # Killed only once it has committed, so the survivor must resume from that commit.
    wait_for(lambda: bool(committed_offsets(bootstrap)), 30, "the victim's first commit")
    victim.kill()
    assert count(es_proxy.url) < len(produced)

    es_proxy.fault = None
    survivor = IndexerProcess(env, tmp_path / "survivor.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 60, "the rest indexed")
    wait_for(
        lambda: (
            survivor.metric("indexer_events_indexed_total")
            + survivor.metric("indexer_events_duplicate_total")
            == survivor.metric("indexer_events_consumed_total")
        ),
        20,
        "the survivor's counters to settle",
    )
    # It resumed from the victim's last commit, not from the start, and re-met what the victim
    # had written but not yet committed: bulks really were in flight at the kill.
    assert 0 < survivor.metric("indexer_events_consumed_total") < len(produced)
    assert survivor.metric("indexer_events_duplicate_total") > 0
    finish_and_check(bootstrap, es_proxy.url, produced, [survivor], duplicates_possible=True)


def test_two_indexers_share_the_partitions_and_one_stopping_midway_loses_and_duplicates_nothing(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _setup(kafka, partitions=4, events=6000)
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_BATCH__MAX_DOCS="200")
    es_proxy.fault = _slow_bulks(0.2)
    first = IndexerProcess(env, tmp_path / "first.log").start()
    second = IndexerProcess(env, tmp_path / "second.log").start()

    def both_assigned() -> bool:
        return all(
            any(line["partitions"] for line in log_events(p.log_lines(), "partitions_assigned"))
            for p in (first, second)
        )

    wait_for(both_assigned, 30, "both members to get partitions")
    wait_for(lambda: count(es_proxy.url) >= 2000, 60, "a third indexed")
    assert second.stop() == 0
    es_proxy.fault = None
    # Every hand-over was drained and committed first: the first member re-met nothing.
    finish_and_check(bootstrap, es_proxy.url, produced, [first], duplicates_possible=False)
