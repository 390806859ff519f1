"""End to end, on the real broker and ES-API server: apps named as only a Kubernetes label value
may be named (`Cart-API`, `ledger_v2`) are indexed in their namespace's lower-case app index,
every line by its content, none in unmatched, none dead-lettered, every offset committed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from indexer.sample import Source, stream
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    expected_source,
    indexer_env,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

SOURCES = [
    Source(namespace, app, pod)
    for namespace in ("shop", "bank")
    for app, pod in (("Cart-API", "cart-api-0"), ("ledger_v2", "ledger-v2-0"), ("cart-api", "c-0"))
]


def test_label_value_apps_are_stored_in_their_namespaces_lower_case_index_by_content(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-apps", 2)
    values = [value for _, value in stream(SOURCES, 1200, days_ago(2), days=2)]
    produced = produce(bootstrap, "filebeat-apps", values, partitions=2)

    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(values), 90, "all events indexed")
    wait_for(
        lambda: committed_offsets(bootstrap) == ends_of(produced), 20, "every offset committed"
    )
    assert indexer.stop() == 0
    assert committed_offsets(bootstrap) == ends_of(produced)

    def line(source: dict[str, object]) -> tuple[object, ...]:
        log = source["log"]
        assert isinstance(log, dict)
        return (log["file"]["path"], log["offset"], source["message"], source["@timestamp"])

    expected: Counter[tuple[object, ...]] = Counter()
    where: dict[tuple[object, ...], tuple[str, str, str]] = {}
    for value in values:
        event = expected_source(value)
        _, _, _, namespace, app, _pod, *_ = event["log"]["file"]["path"].split("/")
        day = event["@timestamp"][:10].replace("-", ".")
        expected[line(event)] += 1
        where[line(event)] = (f"k8s-logs-{namespace}_{app.lower()}-{day}", namespace, app)

    found = documents(es_proxy.url)
    stored = Counter(line(source) for _, source in found.values())
    assert stored == expected  # every line once, by content: nothing lost, nothing twice
    for index, source in found.values():
        wanted_index, namespace, app = where[line(source)]
        assert index == wanted_index
        assert source["service"]["name"] == app  # the original spelling
        assert source["kubernetes"]["namespace"] == namespace
    indices = {index for index, _ in found.values()}
    assert {index.rsplit("-", 1)[0] for index in indices} == {
        f"k8s-logs-{ns}_{app}" for ns in ("shop", "bank") for app in ("cart-api", "ledger_v2")
    }
    assert count(es_proxy.url, "k8s-logs-unmatched-*") == 0
    assert count(es_proxy.url, DEADLETTERS) == 0
