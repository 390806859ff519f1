"""A cluster that accepts the connection and never answers, and a URL that is no cluster: the
error names the host, the timeout and its setting (or the URL and what to check) within the
configured time, and SIGTERM ends the indexer well within a pod's 40 s grace period, at start-up
and while indexing, losing nothing."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.cluster import ClusterError, connect
from indexer.embedded import CompatProxy, ServerProcess
from indexer.settings import ElasticsearchSettings
from tests.support import (
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    ends_of,
    finish_and_check,
    indexer_env,
    log_events,
    produce,
    wait_for,
)

pytestmark = pytest.mark.slow  # `indexer run` as a process (the e2e lane)

GRACE_SECONDS = 40  # deploy/base/indexer/deployment.yaml's terminationGracePeriodSeconds


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A listening socket that never accepts: the kernel completes every connection, nothing
    ever answers (a hung server, a load balancer without a healthy backend)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
def not_a_cluster() -> Iterator[str]:
    """A web server that answers 404 with an empty body to everything (a wrong URL)."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _start(tmp_path: Path, es_url: str, **extra: str) -> IndexerProcess:
    # No broker is needed: nothing reaches Kafka before the cluster answered.
    return IndexerProcess(indexer_env("127.0.0.1:1", es_url, **extra), tmp_path / "i.log").start()


def test_a_silent_cluster_is_named_with_the_startup_timeout_and_its_setting(
    silent_url: str, tmp_path: Path
) -> None:
    indexer = _start(tmp_path, silent_url, INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS="2")
    try:
        indexer.metrics_port  # noqa: B018 (waits for the `listening` line)
        listening = time.monotonic()
        wait_for(
            lambda: bool(log_events(indexer.log_lines(), "connect_failed")), 20, "connect_failed"
        )
        # 2 s, and the time to notice the line (polled) on a loaded machine.
        assert time.monotonic() - listening < 2 + 8
        (failed, *_) = log_events(indexer.log_lines(), "connect_failed")
        message = failed["error"]["message"]
        assert f"no answer from {silent_url} within 2 s" in message, message
        assert "INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS" in message
        assert failed["message"].startswith("connect_failed: ClusterUnavailable: no answer from")
    finally:
        assert indexer.stop(timeout=GRACE_SECONDS) == 0


def test_sigterm_while_the_cluster_holds_the_first_request_exits_at_once(
    silent_url: str, tmp_path: Path
) -> None:
    indexer = _start(tmp_path, silent_url, INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS="60")
    indexer.metrics_port  # noqa: B018
    time.sleep(1)  # `GET /` is waiting for its answer now
    asked = time.monotonic()
    code = indexer.stop(timeout=GRACE_SECONDS)
    took = time.monotonic() - asked
    assert code == 0
    assert took < 10, f"{took:.1f} s to stop"
    assert log_events(indexer.log_lines(), "signal")
    assert not log_events(indexer.log_lines(), "connect_failed")


@pytest.mark.timeout(300)  # 20,000 events into osmem twice, beside another worker
def test_sigterm_while_bulks_wait_on_a_frozen_cluster_exits_within_the_grace_losing_nothing(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-hang", 2)
    stamp = days_ago(1).strftime("%Y-%m-%dT10:00:00.000Z")
    events = [
        b'{"@timestamp":"%s","message":"m%d","log":{"file":{"path":' % (stamp.encode(), i)
        + b'"/data/logs/shop/cart/cart-0/log/a.log"}}}'
        for i in range(20_000)
    ]
    produced = produce(bootstrap, "filebeat-hang", events, partitions=2)
    # The default request timeout (60 s): longer than the grace period, as in production.
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_BATCH__MAX_DOCS="500")
    first = IndexerProcess(env, tmp_path / "first.log").start()
    wait_for(lambda: count(es_proxy.url) >= 2000, 60, "indexing under way")
    es_server.pause()
    try:
        time.sleep(1)  # bulks are in flight and get no answer
        asked = time.monotonic()
        code = first.stop(timeout=GRACE_SECONDS)
        took = time.monotonic() - asked
    finally:
        es_server.resume()
    assert code == 0
    # The drain's bound (10 s here) and the commit and close after it.
    assert took < 25, f"{took:.1f} s to stop"
    committed = committed_offsets(bootstrap)
    ends = ends_of(produced)
    assert all(committed.get(partition, 0) <= end for partition, end in ends.items())
    # What the first run committed was written: a second run from those offsets stores all.
    second = IndexerProcess(env, tmp_path / "second.log").start()
    # Timeout: osmem first works off the bulks abandoned while it was frozen.
    finish_and_check(
        bootstrap, es_proxy.url, produced, [second], duplicates_possible=True, timeout=150
    )


def test_a_404_from_a_url_that_is_no_cluster_names_the_url_and_what_to_check(
    not_a_cluster: str,
) -> None:
    url = f"{not_a_cluster}/logs"
    with pytest.raises(ClusterError) as raised:
        connect(ElasticsearchSettings(hosts=[url]))
    message = str(raised.value)
    assert raised.value.status == 404
    assert f"GET / on {url}" in message, message
    assert "Elasticsearch or OpenSearch endpoint" in message
    assert "path after the host in INDEXER_ELASTICSEARCH__HOSTS" in message
