"""`indexer replay` after a change of routing settings, on the real servers (one bed): a line
first stored in its own day's index would route to another day now; the replay finds its `_id`
stored there, does not write it again (one copy, no `_id` twice), counts it as already present
(`duplicates`, and `moved`), and writes what is missing where it routes now."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from tests.replay.helpers import T0, at, delete_documents, event, produce_at, run_command
from tests.support import IndexerProcess, count, create_topic, documents, indexer_env, wait_for

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

TOPIC = "filebeat-moved"
OWN = T0 - timedelta(days=3)  # the lines' own time: within the default max_past (6 days)


def test_a_replay_after_a_routing_change_stores_no_line_twice(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 1)
    messages = [(event("shop", "api", OWN + timedelta(minutes=m)), at(m), 0) for m in range(6)]
    records = produce_at(bootstrap, TOPIC, messages)
    env = indexer_env(bootstrap, es_proxy.url)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(records), 45, "every line indexed")
    assert indexer.stop() == 0
    first = documents(es_proxy.url)
    own_index = f"k8s-logs-shop_api-{OWN:%Y.%m.%d}"
    assert {index for index, _ in first.values()} == {own_index}
    delete_documents(es_proxy.url, {records[5]: own_index})  # one line lost meanwhile

    # The bounds shrink to one day: the lines' own time (3 days before Kafka's) is out of them,
    # so each now routes to its Kafka day, where no copy stops a `create`.
    changed = {**env, "INDEXER_ROUTING__MAX_PAST": "P1D"}
    flags = ["--since", at(0).isoformat(), "--until", at(10).isoformat()]
    code, summary = run_command(changed, "replay", *flags)

    assert code == 0, summary
    assert summary["moved"] == 5
    assert (summary["indexed"], summary["duplicates"]) == (1, 5), summary
    found = documents(es_proxy.url)  # fails on a Kafka record or an _id stored twice
    assert found.keys() == set(records)
    for record in records[:5]:
        assert found[record] == first[record], "a stored line was written again or changed"
    assert found[records[5]][0] == f"k8s-logs-shop_api-{T0:%Y.%m.%d}"  # where it routes now
