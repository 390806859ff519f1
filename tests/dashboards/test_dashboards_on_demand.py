"""The running indexer makes each new namespace's OpenSearch Dashboards objects in the
background: the real pipeline on the real broker and the ES-API server dressed as OpenSearch,
Dashboards a recording server. Indexing never waits for Dashboards, even when it is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, ServerProcess, free_port
from tests.dashboards_server import RecordingDashboards
from tests.support import (
    IndexerProcess,
    count,
    days_ago,
    indexer_env,
    log_events,
    produce_sample,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

GLOBAL = {"k8s-logs-all", "k8s-logs-deadletter", "k8s-logs-unmatched"}


@pytest.fixture
def opensearch(es_server: ServerProcess) -> Iterator[CompatProxy]:
    proxy = CompatProxy(es_server.port, "opensearch").start()
    yield proxy
    proxy.stop()


def _produce(kafka: ServerProcess) -> int:
    bootstrap = f"127.0.0.1:{kafka.port}"
    return len(produce_sample(bootstrap, "filebeat-apps", 2, 200, days_ago(1), 1, (2, 2, 1)))


def test_each_new_namespace_gets_its_index_pattern_once(
    kafka: ServerProcess, opensearch: CompatProxy, tmp_path: Path
) -> None:
    with RecordingDashboards() as osd:
        produced = _produce(kafka)
        env = indexer_env(
            f"127.0.0.1:{kafka.port}", opensearch.url, INDEXER_DASHBOARDS__URL=osd.url
        )
        indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
        wait_for(lambda: count(opensearch.url) >= produced, 60, "everything indexed")
        wanted = GLOBAL | {"k8s-logs-ns-payments", "k8s-logs-ns-orders"}
        wait_for(lambda: set(osd.patterns()) == wanted, 30, "the index patterns")
        assert indexer.stop() == 0
    posts = [w.path.rsplit("/", 1)[1] for w in osd.writes()]
    assert sorted(posts) == sorted(wanted)  # each once
    assert all(r.headers["osd-xsrf"] == "true" for r in osd.requests)


def test_indexing_never_waits_for_a_dashboards_that_is_down(
    kafka: ServerProcess, opensearch: CompatProxy, tmp_path: Path
) -> None:
    produced = _produce(kafka)
    down = f"http://127.0.0.1:{free_port()}"
    env = indexer_env(
        f"127.0.0.1:{kafka.port}",
        opensearch.url,
        INDEXER_DASHBOARDS__URL=down,
        INDEXER_DASHBOARDS__RETRY_INITIAL_SECONDS="0.2",
        INDEXER_DASHBOARDS__RETRY_MAX_SECONDS="0.5",
    )
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(opensearch.url) >= produced, 60, "everything indexed")
    wait_for(lambda: indexer.metric("indexer_dashboards_setup_total") >= 3, 30, "retried setups")
    assert indexer.stop() == 0
    failed = [line for line in log_events(indexer.log_lines(), "dashboards_setup_failed")]
    assert {line["namespace"] for line in failed} == {"payments", "orders"}
    assert len(failed) == 2  # once per namespace per failure streak
