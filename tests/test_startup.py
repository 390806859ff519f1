"""Start-up: templates and policies are applied before the first write; while the cluster refuses
them the indexer is alive but not ready, and it catches up by itself."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, Reply, ServerProcess
from tests.support import (
    IndexerProcess,
    cluster,
    count,
    create_topic,
    days_ago,
    documents,
    indexer_env,
    log_events,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

FORBIDDEN = Reply(
    403,
    b'{"error":{"type":"security_exception","reason":"action [indices:admin/index_template/put] '
    b'is unauthorized for API key id [indexer]"},"status":403}',
)


def _status(indexer: IndexerProcess, path: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{indexer.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except urllib.error.URLError:
        return 0, ""


def test_a_refused_setup_fails_readiness_not_liveness_and_nothing_is_written_until_it_succeeds(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    es_proxy.fault = lambda method, path, body: (
        FORBIDDEN if method == "PUT" and "_template" in path else None
    )
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-s", 1)
    stamp = days_ago(1).strftime("%Y-%m-%dT10:00:00.000Z")
    # Twenty different lines: ids are content-derived (docid.py), equal events are one document.
    events = [
        b'{"@timestamp":"%s","message":"m%d","log":{"file":{"path":' % (stamp.encode(), i)
        + b'"/data/logs/shop/cart/cart-0/log/a.log"}}}'
        for i in range(20)
    ]
    produced = produce(bootstrap, "filebeat-s", events, partitions=1)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()

    wait_for(lambda: _status(indexer, "/healthz")[0] == 200, 20, "liveness")
    # Health answers while the first start-up attempt still runs (its own thread, so SIGTERM is
    # never stuck behind it): readiness first says the cluster has not answered, then why.
    wait_for(
        lambda: "templates and policies are not applied" in _status(indexer, "/readyz")[1],
        20,
        "readiness to name the refused setup",
    )
    status, reason = _status(indexer, "/readyz")
    assert status == 503 and "templates and policies are not applied" in reason
    assert _status(indexer, "/healthz")[0] == 200  # alive all along: not restarted for it
    # Retried with backoff (0, 1, 3, 7 s): long past the group join and the batch age, so
    # without the wait for setup a bulk would have gone out by now.
    wait_for(
        lambda: len(log_events(indexer.log_lines(), "setup_failed")) >= 4,
        20,
        "the refusal to be retried",
    )
    # Neither a bulk nor the creation of one of our indices (a PUT /k8s-logs-…) went out.
    early_writes = [
        f"{request.method} {request.path}"
        for request in es_proxy.requests
        if "_bulk" in request.path
        or (request.method in ("PUT", "POST") and request.path.startswith("/k8s-logs-"))
    ]
    assert early_writes == []

    es_proxy.fault = None  # ops granted the privilege
    wait_for(lambda: count(es_proxy.url) >= len(produced), 40, "indexing after setup")
    assert _status(indexer, "/readyz")[0] == 200
    assert indexer.stop() == 0
    assert documents(es_proxy.url).keys() == produced.keys()
    templates = cluster(es_proxy.url).request("GET", "/_index_template")["index_templates"]
    assert "k8s-logs-apps" in {template["name"] for template in templates}
