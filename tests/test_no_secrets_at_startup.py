"""The start-up line names the version and the cluster, without the credentials written into
the cluster's URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer import __version__
from indexer.embedded import CompatProxy, ServerProcess
from tests.support import IndexerProcess, indexer_env, log_events, spawned_core, wait_for

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow


def test_the_started_line_masks_the_credentials_of_the_cluster_url(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    with_credentials = es_proxy.url.replace("http://", "http://elastic:es-pw-123@")
    env = indexer_env(f"127.0.0.1:{kafka.port}", with_credentials)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(
        lambda: bool(log_events(indexer.log_lines(), "started")),
        30,
        "the started line",
    )
    assert indexer.stop() == 0
    text = (tmp_path / "indexer.log").read_text()
    assert "es-pw-123" not in text
    (started,) = log_events(indexer.log_lines(), "started")
    assert started["elasticsearch"] == [es_proxy.url.replace("http://", "http://**********@")]
    assert json.loads(env["INDEXER_ELASTICSEARCH__HOSTS"]) == [with_credentials]
    # The start-up line also names what runs (the core the harness chose: native where built).
    assert (started["version"], started["core"]) == (__version__, spawned_core())
