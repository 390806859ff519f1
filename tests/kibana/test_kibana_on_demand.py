"""The indexer makes each namespace's Kibana objects as the namespace appears, in the
background: the real pipeline on the real broker and ES-API server, Kibana a recording server.
Indexing never waits for Kibana, even while Kibana fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer import metrics
from indexer.embedded import CompatProxy, ServerProcess
from indexer.kibana.ondemand import KibanaProvisioner
from indexer.log import configure_logging
from indexer.settings import LogSettings, load_settings
from tests.kibana_server import RecordingKibana
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

NAMESPACES = {"payments", "orders"}
GLOBAL_VIEWS = {"k8s-logs-all", "k8s-logs-deadletter", "k8s-logs-unmatched"}
FAST_RETRY = {
    "INDEXER_KIBANA__RETRY_INITIAL_SECONDS": "0.2",
    "INDEXER_KIBANA__RETRY_MAX_SECONDS": "0.5",
}


@pytest.fixture
def kibana() -> Iterator[RecordingKibana]:
    with RecordingKibana() as server:
        yield server


def _produce(kafka: ServerProcess, events: int) -> int:
    bootstrap = f"127.0.0.1:{kafka.port}"
    return len(produce_sample(bootstrap, "filebeat-apps", 3, events, days_ago(1), 2, (2, 3, 2)))


def _view_posts(kibana: RecordingKibana) -> list[str]:
    return [
        w.body["data_view"]["id"] for w in kibana.writes() if w.path == "/api/data_views/data_view"
    ]


def test_the_running_indexer_creates_each_new_namespaces_data_view_once(
    kafka: ServerProcess, es_proxy: CompatProxy, kibana: RecordingKibana, tmp_path: Path
) -> None:
    produced = _produce(kafka, 3000)
    env = indexer_env(f"127.0.0.1:{kafka.port}", es_proxy.url, INDEXER_KIBANA__URL=kibana.url)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= produced, 90, "all events indexed")
    wanted = GLOBAL_VIEWS | {f"k8s-logs-ns-{ns}" for ns in NAMESPACES}
    wait_for(lambda: set(kibana.views()) == wanted, 20, "the data views")
    wait_for(lambda: indexer.metric("indexer_kibana_setup_total") >= len(NAMESPACES), 10, "metric")
    assert indexer.stop() == 0
    # 12 indices (2 namespaces, 3 apps, 2 days) were prepared; each view was posted once.
    assert sorted(_view_posts(kibana)) == sorted(wanted)
    assert kibana.views()["k8s-logs-ns-orders"]["title"] == "k8s-logs-orders_*"
    assert all(r.headers.get("kbn-xsrf") == "true" for r in kibana.requests)


def test_a_failing_kibana_neither_stalls_indexing_nor_loses_the_views(
    kafka: ServerProcess, es_proxy: CompatProxy, kibana: RecordingKibana, tmp_path: Path
) -> None:
    kibana.fail_with = 500
    produced = _produce(kafka, 2000)
    env = indexer_env(
        f"127.0.0.1:{kafka.port}", es_proxy.url, INDEXER_KIBANA__URL=kibana.url, **FAST_RETRY
    )
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= produced, 90, "all events indexed, Kibana down")
    wait_for(lambda: len(kibana.requests) >= 3 * len(NAMESPACES), 20, "several retries")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    errors = indexer.metric("indexer_kibana_setup_total")
    assert errors >= 3 * len(NAMESPACES)

    kibana.fail_with = None
    wanted = GLOBAL_VIEWS | {f"k8s-logs-ns-{ns}" for ns in NAMESPACES}
    wait_for(lambda: set(kibana.views()) == wanted, 20, "the data views after recovery")
    assert indexer.stop() == 0
    assert sorted(_view_posts(kibana)) == sorted(wanted)
    failed = log_events(indexer.log_lines(), "kibana_setup_failed")
    assert sorted(line["namespace"] for line in failed) == sorted(NAMESPACES)  # once per streak
    recovered = [line for line in indexer.log_lines() if line.get("recovered") is True]
    assert {line["namespace"] for line in recovered} == NAMESPACES


def test_a_hanging_kibana_delays_neither_indexing_nor_shutdown(
    kafka: ServerProcess, es_proxy: CompatProxy, kibana: RecordingKibana, tmp_path: Path
) -> None:
    kibana.hang_seconds = 120
    produced = _produce(kafka, 2000)
    env = indexer_env(
        f"127.0.0.1:{kafka.port}",
        es_proxy.url,
        INDEXER_KIBANA__URL=kibana.url,
        INDEXER_KIBANA__TIMEOUT_SECONDS="120",
    )
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= produced, 60, "all events indexed, Kibana hanging")
    wait_for(lambda: kibana.arrived >= 1, 10, "the worker's first request to Kibana")
    assert kibana.requests == []  # recorded once answered: it is still hanging
    started = time.monotonic()
    assert indexer.stop() == 0
    assert time.monotonic() - started < 20  # the drain's bound, not Kibana's 120 s


def test_submit_returns_at_once_and_each_namespace_is_set_up_once(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        kibana={"url": kibana.url, "retry_initial_seconds": 0.1, "retry_max_seconds": 0.2}
    )
    stop = threading.Event()
    kibana.fail_with = 500
    kibana.hang_seconds = 1
    before = metrics.KIBANA_SETUP.labels("error")._value.get()
    configure_logging(LogSettings(format="json"))
    capsys.readouterr()
    logs: list[dict[str, Any]] = []

    def logged(name: str) -> bool:
        logs.extend(log_events(capsys.readouterr().err))
        return bool(log_events(logs, name))

    provisioner = KibanaProvisioner(settings, stop).start()
    started = time.monotonic()
    for _ in range(1000):
        provisioner.submit("shop")  # the worker is waiting for Kibana meanwhile
    assert time.monotonic() - started < 0.1
    kibana.hang_seconds = 0
    wait_for(lambda: len(kibana.requests) >= 4, 10, "retries")
    kibana.fail_with = None
    wait_for(lambda: "k8s-logs-ns-shop" in kibana.views(), 10, "the view")
    provisioner.submit("shop")
    wait_for(lambda: logged("kibana_setup"), 5, "success logged")
    stop.set()
    assert metrics.KIBANA_SETUP.labels("error")._value.get() - before >= 3
    logged("kibana_setup_failed")
    assert len(log_events(logs, "kibana_setup_failed")) == 1
    assert _view_posts(kibana).count("k8s-logs-ns-shop") == 1
