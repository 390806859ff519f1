"""Times that would hide or lose a line, end to end on the real broker and ES-API server (both
beds): an `@timestamp` that begins with a valid minute but is not a date is set aside and the
Kafka time takes its place, so a range query on `@timestamp` finds the line and the original
stays searchable; a record stamped 1970 (a node without a clock) goes to an index the retention
sweeper keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    cluster,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    indexer_env,
    produce_stamped,
    record_of,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

KAFKA_TIME = days_ago(1) + timedelta(hours=10, minutes=30)  # when filebeat sent the lines
KAFKA_MILLIS = int(KAFKA_TIME.timestamp() * 1000)
MINUTE = (KAFKA_TIME - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M")  # a valid minute
NOT_DATES = [f"{MINUTE}garbage!!Z", f"{MINUTE}:61.000Z", f"{MINUTE}+01:00Z"]
GOOD = f"{MINUTE}:07.250Z"
APP_PATH = "/data/logs/shop/cart/cart-7d4b9c8f6-bcd2f/log/app.log"


def _event(stamp: Any, message: str, path: str = APP_PATH) -> bytes:
    return json.dumps(
        {"@timestamp": stamp, "message": message, "log": {"file": {"path": path}}}
    ).encode()


def _search(es_url: str, query: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Hits of `query` over every stored index, by Kafka record: (index, source)."""
    es = cluster(es_url)
    try:
        es.request("POST", "/k8s-logs-*/_refresh")
        answer = es.request(
            "POST", "/k8s-logs-*_*,k8s-logs-unmatched-*/_search", {"query": query, "size": 100}
        )
    finally:
        es.close()
    return {record_of(h["_source"]): (h["_index"], h["_source"]) for h in answer["hits"]["hits"]}


def test_a_timestamp_that_is_not_a_date_is_found_by_time_and_kept_as_it_was(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-stamps", 1)
    values = [_event(stamp, f"line {n}") for n, stamp in enumerate(NOT_DATES)]
    values.append(_event(NOT_DATES[0], "unmatched", "/var/log/syslog"))  # the unmatched index
    values.append(_event(GOOD, "a good one"))
    produced = produce_stamped(bootstrap, "filebeat-stamps", ((v, KAFKA_MILLIS) for v in values))
    records = list(produced)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(values), 60, "every line stored")
    wait_for(lambda: committed_offsets(bootstrap) == ends_of(produced), 30, "offsets committed")
    wait_for(
        lambda: indexer.metric("indexer_events_timestamp_not_a_date_total") == 4, 10, "the count"
    )
    assert indexer.stop() == 0
    assert count(es_proxy.url, DEADLETTERS) == 0

    kafka_stamp = KAFKA_TIME.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    around = {
        "gte": (KAFKA_TIME - timedelta(seconds=1)).isoformat(),
        "lte": (KAFKA_TIME + timedelta(seconds=1)).isoformat(),
    }
    by_time = _search(es_proxy.url, {"range": {"@timestamp": around}})
    assert set(by_time) == set(records[:4]), "each line that had no date is found by its time"
    day = KAFKA_TIME.strftime("%Y.%m.%d")
    for record, stamp in zip(records[:4], [*NOT_DATES, NOT_DATES[0]], strict=True):
        index, source = by_time[record]
        assert source["@timestamp"] == kafka_stamp
        assert source["indexer_timestamp"] == {"original": stamp, "reason": "not_a_date"}
        assert index.endswith(day)
    # The original is mapped (a keyword, in the unmatched index too): searchable as it was.
    by_original = _search(es_proxy.url, {"term": {"indexer_timestamp.original": NOT_DATES[0]}})
    assert set(by_original) == {records[0], records[3]}
    assert by_original[records[3]][0] == f"k8s-logs-unmatched-{day}"
    # A date stays as it is, and is found at its own time.
    good = documents(es_proxy.url)[records[4]][1]
    assert good["@timestamp"] == GOOD
    assert "indexer_timestamp" not in good


# 2. A node without a clock -------------------------------------------------------------------

EPOCH_STAMP = "1970-01-01T00:00:42.000Z"


def test_records_stamped_1970_go_to_the_day_of_consumption_which_the_sweeper_keeps(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-clockless", 1)
    values = [_event(EPOCH_STAMP, f"booting {n}") for n in range(5)]
    values.append(b"not JSON from a node without a clock")  # its dead letter, kept as well
    produced = produce_stamped(bootstrap, "filebeat-clockless", ((v, 42_000) for v in values))
    before = datetime.now(UTC)
    # The real sweeper, running, with a pass every second: it deletes what is past retention.
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_LIFECYCLE__SWEEPER_DRY_RUN="false",
        INDEXER_LIFECYCLE__SWEEPER_INTERVAL_SECONDS="1",
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 5, 60, "every line stored")
    wait_for(lambda: count(es_proxy.url, DEADLETTERS) >= 1, 30, "the dead letter")
    wait_for(lambda: committed_offsets(bootstrap) == ends_of(produced), 30, "offsets committed")
    wait_for(lambda: indexer.metric("indexer_events_clockless_total") == 6, 10, "the count")
    passes = indexer.metric("indexer_retention_last_run_timestamp_seconds")
    wait_for(
        lambda: indexer.metric("indexer_retention_last_run_timestamp_seconds") > passes + 1,
        30,
        "two more sweeper passes after the offsets were committed",
    )
    assert indexer.stop() == 0
    after = datetime.now(UTC)

    days = {when.strftime("%Y.%m.%d") for when in (before, after)}  # a run may cross midnight
    stored = documents(es_proxy.url)
    assert len(stored) == 5, "the sweeper deleted none of them"
    for index, source in stored.values():
        assert index.rsplit("-", 1)[1] in days
        assert source["@timestamp"] == EPOCH_STAMP  # the line's own time, as it said
    letters = documents(es_proxy.url, DEADLETTERS)
    assert len(letters) == 1
    assert next(iter(letters.values()))[0].rsplit("-", 1)[1] in days
