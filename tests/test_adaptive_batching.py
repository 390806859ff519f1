"""At a low rate a line waits for neither the batch age nor the poll timeout: a batch goes out as
soon as every writer is idle (pipeline `_seal_due`; `batch.max_age_seconds` bounds it only while a
bulk is in flight), and a poll returns with the first message (`_read`; librdkafka's
`consume(n, timeout)` alone waits for n messages or the whole timeout)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from indexer.sample import sources, stream
from tests.support import (
    IndexerProcess,
    count,
    create_topic,
    days_ago,
    indexer_env,
    log_events,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow


def test_a_few_lines_into_an_idle_indexer_are_indexed_long_before_the_batch_age(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-apps", 1)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_BATCH__MAX_AGE_SECONDS="60",
        INDEXER_BATCH__MAX_DOCS="5000",
        INDEXER_KAFKA__POLL_TIMEOUT_SECONDS="10",
    )
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    try:
        wait_for(
            lambda: any(
                line.get("partitions")
                for line in log_events(indexer.log_lines(), "partitions_assigned")
            ),
            60,
            "assignment",
        )
        values = [v for _, v in stream(sources(1, 1, 1), 6, days_ago(1), days=1)]
        for round_ in range(2):  # the second round finds the indexer idle again
            produce(bootstrap, "filebeat-apps", values[3 * round_ : 3 * round_ + 3], partitions=1)
            sent = time.monotonic()
            wait_for(lambda n=3 * (round_ + 1): count(es_proxy.url) >= n, 30, "lines indexed")
            # A batch that waited for its age would take 60 s, a poll that waited for its
            # timeout 10 s; one poll and one bulk take well under a second here (7 s leaves
            # room for a loaded machine).
            assert time.monotonic() - sent < 7
        assert indexer.metric("indexer_bulk_documents_count") >= 2  # two bulks, not one
    finally:
        assert indexer.stop() == 0
