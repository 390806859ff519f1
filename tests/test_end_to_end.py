"""End to end, on the real broker and ES-API server: every produced event is found exactly once,
in the right index, with the right Kubernetes fields."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from indexer.embedded import CompatProxy, ServerProcess
from indexer.sample import sources, stream
from tests.support import (
    IndexerProcess,
    count,
    create_topic,
    decoded,
    documents,
    indexer_env,
    produce,
    wait_for,
)

DAY1 = datetime(2026, 11, 24, tzinfo=UTC)


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
    assert indexer.stop() == 0

    found = documents(es_proxy.url)
    assert found.keys() == produced.keys()
    indices = {index for index, _ in found.values()}
    assert len(indices) == 12  # 6 (namespace, app) pairs × 2 days
    for doc_id, (index, source) in found.items():
        event = decoded(produced[doc_id])
        path = event["log"]["file"]["path"]
        _, _, _, namespace, app, pod, *_ = path.split("/")
        day = event["@timestamp"][:10].replace("-", ".")
        assert index == f"logs-{namespace}_{app}-{day}"
        assert source["kubernetes"]["namespace"] == namespace
        assert source["kubernetes"]["pod"]["name"] == pod
        assert source["service"]["name"] == app
        assert source["message"] == event["message"]
        assert source["agent"] == event["agent"]
