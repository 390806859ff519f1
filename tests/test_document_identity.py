"""End to end, on the real broker and ES-API server (one bed): a document's `_id` names the
event, not where Kafka put it (docid.py). A topic re-created with new lines loses none of them to
a 409; a shipper's re-send, at another offset or on another topic, is one document and counted as
a duplicate; equal text at two offsets of a file is two documents; `@metadata._id` is the id and
`@metadata` is not stored. Every test ends with no dead letter and every offset committed."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from indexer.embedded import CompatProxy, ServerProcess
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    documents_by_id,
    ends_of,
    indexer_env,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

T0 = days_ago(1) + timedelta(hours=10)
DAY = T0.strftime("%Y.%m.%d")
DUPLICATES = "indexer_events_duplicate_total"
Line = tuple[object, ...]


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def filebeat_event(
    pod: str,
    inode: str,
    offset: int,
    message: str,
    seconds: float = 0,
    host: str = "node-1.cluster.local",
    metadata: dict[str, Any] | None = None,
    ephemeral_id: str = "8b30db57-a5ee-4a47-b998-3a0f45edd430",
) -> bytes:
    """A filebeat 8 filestream event for a line of the `shop/cart` app, as its Kafka output
    writes it (`@metadata` included)."""
    return json.dumps(
        {
            "@timestamp": _iso(T0 + timedelta(seconds=seconds)),
            "@metadata": {
                "beat": "filebeat",
                "type": "_doc",
                "version": "8.11.0",
                **(metadata or {}),
            },
            "message": message,
            "log": {
                "offset": offset,
                "file": {
                    "path": f"/data/logs/shop/cart/{pod}/log/app.log",
                    "device_id": "64514",
                    "inode": inode,
                },
            },
            "input": {"type": "filestream"},
            "ecs": {"version": "8.0.0"},
            "host": {"name": host},
            "agent": {
                "id": "24f13539-7e02-46c0-bd78-a1d9212f93f3",
                "name": host,
                "type": "filebeat",
                "version": "8.11.0",
                "ephemeral_id": ephemeral_id,
            },
        }
    ).encode()


def lines_of_file(pod: str, inode: str, first: int, texts: list[str]) -> list[bytes]:
    """Consecutive lines of one file from byte offset `first` (each line plus its newline)."""
    events = []
    offset = first
    for n, text in enumerate(texts):
        events.append(filebeat_event(pod, inode, offset, text, seconds=n))
        offset += len(text.encode()) + 1
    return events


def line(source: dict[str, Any]) -> Line:
    """What a stored document says about its line (never its Kafka record, nor its `_id`)."""
    file = source["log"]["file"]
    return (
        source["host"]["name"],
        file["path"],
        file["inode"],
        source["log"]["offset"],
        source["message"],
        source["@timestamp"],
    )


def expected_lines(values: list[bytes]) -> Counter[Line]:
    return Counter(line(json.loads(value)) for value in values)


def stored_lines(es_url: str) -> Counter[Line]:
    sources = [source for _, source in documents_by_id(es_url).values()]
    assert not [s for s in sources if "@metadata" in s], "the shipper's @metadata was indexed"
    return Counter(line(source) for source in sources)


def run_until_done(
    bootstrap: str, es_url: str, log: Path, produced: dict[str, bytes], stored: int
) -> IndexerProcess:
    """Run the indexer until `stored` documents are in and every offset of `produced` is
    committed; returns it still running (to read its metrics)."""
    indexer = IndexerProcess(indexer_env(bootstrap, es_url), log).start()
    wait_for(lambda: count(es_url) >= stored, 60, f"{stored} documents stored")
    wait_for(lambda: committed_offsets(bootstrap) == ends_of(produced), 30, "offsets committed")
    return indexer


def finish(
    indexer: IndexerProcess, bootstrap: str, es_url: str, produced: dict[str, bytes]
) -> None:
    assert indexer.stop() == 0
    assert committed_offsets(bootstrap) == ends_of(produced)
    assert count(es_url, DEADLETTERS) == 0


def _recreate_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_topics([topic]).values():
        future.result(10)
    wait_for(lambda: topic not in admin.list_topics(timeout=5).topics, 10, f"{topic} deleted")
    create_topic(bootstrap, topic, 1)


def test_a_re_created_topic_s_new_lines_are_all_stored_though_their_kafka_records_repeat(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    topic = "filebeat-recreated"
    create_topic(bootstrap, topic, 1)
    before = lines_of_file("cart-0", "140027", 0, [f"order {n} accepted" for n in range(40)])
    first = produce(bootstrap, topic, before)
    indexer = run_until_done(bootstrap, es_proxy.url, tmp_path / "first.log", first, len(before))
    finish(indexer, bootstrap, es_proxy.url, first)

    _recreate_topic(bootstrap, topic)
    # The same file goes on, and a new pod of the same app starts its own: same app, same day.
    offset = json.loads(before[-1])["log"]["offset"] + len("order 39 accepted") + 1
    after = lines_of_file("cart-0", "140027", offset, [f"order {n} shipped" for n in range(20)])
    after += lines_of_file("cart-1", "140031", 0, [f"order {n} paid" for n in range(20)])
    second = produce(bootstrap, topic, after)
    assert second.keys() == first.keys()  # offsets restarted at 0: every record repeats

    indexer = run_until_done(
        bootstrap, es_proxy.url, tmp_path / "second.log", second, len(before) + len(after)
    )
    assert indexer.metric(DUPLICATES) == 0
    finish(indexer, bootstrap, es_proxy.url, second)
    assert stored_lines(es_proxy.url) == expected_lines(before + after)


def test_an_event_sent_again_at_other_offsets_and_topics_is_one_document_and_a_duplicate(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-a", 1)
    create_topic(bootstrap, "filebeat-b", 1)
    events = lines_of_file(
        "cart-0", "140027", 0, [f"GET /api/v1/orders/{n} 200" for n in range(10)]
    )
    produced = produce(bootstrap, "filebeat-a", events)
    indexer = run_until_done(bootstrap, es_proxy.url, tmp_path / "indexer.log", produced, 10)
    first = documents(es_proxy.url)

    # A produce retry (the same bytes at later offsets), a mirrored copy on another topic, and
    # filebeat's re-read after a restart: read again from its registry offset, so a later
    # @timestamp and another ephemeral id, but the same host, file, offset and line.
    re_read = []
    for value in events:
        event = json.loads(value)
        event["@timestamp"] = _iso(
            datetime.fromisoformat(event["@timestamp"]) + timedelta(minutes=5)
        )
        event["agent"]["ephemeral_id"] = "f00dfeed-0000-4000-8000-000000000001"
        re_read.append(json.dumps(event).encode())
    produced |= produce(bootstrap, "filebeat-a", events + re_read)
    produced |= produce(bootstrap, "filebeat-b", events)
    wait_for(lambda: indexer.metric(DUPLICATES) >= 30, 30, "every re-send counted a duplicate")
    wait_for(lambda: committed_offsets(bootstrap) == ends_of(produced), 30, "offsets committed")
    assert indexer.metric(DUPLICATES) == 30
    finish(indexer, bootstrap, es_proxy.url, produced)

    assert documents(es_proxy.url) == first  # the first copies, unchanged
    assert stored_lines(es_proxy.url) == expected_lines(events)


def test_equal_text_at_two_offsets_in_two_files_or_on_two_hosts_is_a_document_each(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-same", 1)
    # The line's own time (which structured parsing reads) is relative too, like the events'.
    text = f"{_iso(T0)} INFO health check ok"
    events = [
        filebeat_event("cart-0", "140027", 0, text),
        filebeat_event("cart-0", "140027", 47, text),  # the next line of the same file
        filebeat_event("cart-0", "140099", 0, text),  # the rotated file's first line
        filebeat_event("cart-0", "140027", 0, text, host="node-2.cluster.local"),
    ]
    produced = produce(bootstrap, "filebeat-same", events)
    indexer = run_until_done(bootstrap, es_proxy.url, tmp_path / "indexer.log", produced, 4)
    assert indexer.metric(DUPLICATES) == 0
    finish(indexer, bootstrap, es_proxy.url, produced)
    assert stored_lines(es_proxy.url) == expected_lines(events)


def test_the_shipper_s_metadata_id_is_the_document_id_and_metadata_is_not_stored(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-fingerprint", 1)
    given = ["a1b2c3d4e5f60718", "order-4711/shipped", "fp-" + "9" * 40]
    events = [
        filebeat_event("cart-0", "140027", 100 * n, f"line {n}", metadata={"_id": doc_id})
        for n, doc_id in enumerate(given)
    ]
    # The shipper says this is the first event again: by its id, a duplicate.
    events.append(filebeat_event("cart-0", "140027", 900, "line 9", metadata={"_id": given[0]}))
    produced = produce(bootstrap, "filebeat-fingerprint", events)
    indexer = run_until_done(bootstrap, es_proxy.url, tmp_path / "indexer.log", produced, 3)
    wait_for(lambda: indexer.metric(DUPLICATES) >= 1, 30, "the fourth event a duplicate")
    finish(indexer, bootstrap, es_proxy.url, produced)

    stored = documents_by_id(es_proxy.url)
    assert stored.keys() == set(given)
    for doc_id, value in zip(given, events, strict=False):
        _, source = stored[doc_id]
        assert "@metadata" not in source
        assert line(source) == line(json.loads(value))
