"""What Kibana keys on: each index carries its own `data_stream.*` and `event.dataset`, set when
the indexer creates it (no per-document bytes), the indices stay plain indices, a filter on
`data_stream.dataset` finds exactly one app's documents, through the whole pipeline, and every
document has its `event.ingested`."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from indexer.admin.preparer import IndexPreparer
from indexer.admin.setup import run_setup
from indexer.embedded import CompatProxy, ServerProcess
from indexer.sample import sources, stream
from indexer.settings import Settings
from tests.support import (
    IndexerProcess,
    cluster,
    count,
    create_topic,
    days_ago,
    documents,
    indexer_env,
    produce,
    wait_for,
)

# End to end, and the product is the subject (its own answers): on both beds.
pytestmark = [pytest.mark.slow, pytest.mark.dialect]

DAY = days_ago(1)


def _search_count(es_url: str, query: dict[str, Any]) -> int:
    es = cluster(es_url)
    try:
        answer = es.request("POST", "/k8s-logs-*/_count", {"query": query})
    finally:
        es.close()
    return int(answer["count"])


def test_every_index_carries_its_namespace_and_app_and_stays_a_plain_index(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-apps", 1)
    values = [value for _, value in stream(sources(2, 2, 1), 400, DAY)]
    produced = produce(bootstrap, "filebeat-apps", values, partitions=1)
    started = time.time()
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 90, "all events indexed")
    assert indexer.stop() == 0
    stopped = time.time()

    found = documents(es_proxy.url)
    per_app: dict[tuple[str, str], int] = {}
    for _, source in found.values():
        key = (source["kubernetes"]["namespace"], source["service"]["name"])
        per_app[key] = per_app.get(key, 0) + 1
        assert "data_stream" not in source  # in the mapping only, never in a document
        ingested = datetime.fromisoformat(source["event"]["ingested"]).timestamp()
        assert started - 1 <= ingested <= stopped
    assert len(per_app) == 4
    for (namespace, app), expected in per_app.items():
        query = {
            "bool": {
                "filter": [
                    {"term": {"data_stream.dataset": app}},
                    {"term": {"data_stream.namespace": namespace}},
                ]
            }
        }
        assert _search_count(es_proxy.url, query) == expected, (namespace, app)
        assert _search_count(es_proxy.url, {"term": {"event.dataset": app}}) == sum(
            n for (_, a), n in per_app.items() if a == app
        )

    es = cluster(es_proxy.url)
    try:
        assert es.request("GET", "/_data_stream")["data_streams"] == []
        resolved = es.request("GET", "/_resolve/index/k8s-logs-*")
        assert resolved["data_streams"] == []
        index, source = next(iter(found.values()))
        mapping = es.request("GET", f"/{index}/_mapping")[index]["mappings"]["properties"]
    finally:
        es.close()
    stream_fields = mapping["data_stream"]["properties"]
    namespace, app = source["kubernetes"]["namespace"], source["service"]["name"]
    if es_proxy.product == "opensearch":
        assert stream_fields["dataset"] == {"type": "alias", "path": "service.name"}
        assert stream_fields["namespace"] == {"type": "alias", "path": "kubernetes.namespace"}
    else:
        assert stream_fields == {
            "type": {"type": "constant_keyword", "value": "logs"},
            "dataset": {"type": "constant_keyword", "value": app},
            "namespace": {"type": "constant_keyword", "value": namespace},
        }
        assert _search_count(es_proxy.url, {"term": {"data_stream.type": "logs"}}) == len(found)


def test_the_shared_index_finds_each_app_by_its_service_name(es_proxy: CompatProxy) -> None:
    settings = Settings(
        elasticsearch={"hosts": [es_proxy.url]},
        # No room for an app index: every app falls back to the namespace's shared index.
        lifecycle={"mode": "sweeper", "shard_reserve": 1_000_000},
    )
    es = cluster(es_proxy.url)
    try:
        run_setup(es, settings)
        preparer = IndexPreparer(es, settings)
        day = DAY.strftime("%Y.%m.%d")
        lines = []
        for app in ("cart", "web", "web"):
            index = f"k8s-logs-shop_{app}-{day}"
            target = preparer.ensure(index)
            assert target == f"k8s-logs-shop__shared-{day}"
            lines.append(f'{{"create":{{"_index":"{index}"}}}}')
            document = f'{{"@timestamp":"{DAY.isoformat()}","message":"x",'
            document += f'"service":{{"name":"{app}"}},"kubernetes":{{"namespace":"shop"}}}}'
            lines.append(document)
        answer = es.bulk(("\n".join(lines) + "\n").encode(), "errors,items.*.status")
        assert answer["errors"] is False, answer
        es.request("POST", "/_refresh")
    finally:
        es.close()
    assert _search_count(es_proxy.url, {"term": {"data_stream.dataset": "web"}}) == 2
    assert _search_count(es_proxy.url, {"term": {"event.dataset": "cart"}}) == 1
    assert _search_count(es_proxy.url, {"term": {"data_stream.namespace": "shop"}}) == 3
