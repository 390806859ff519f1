"""Reading back what the search server holds: documents by record or by `_id`, dead letters,
counts, what a produced event must look like once stored, and the one check every fault test
ends with (`finish_and_check`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson

from indexer.cluster import SearchClient, connect
from indexer.route import DayResolver
from indexer.settings import ElasticsearchSettings, ParsingSettings, RoutingSettings
from indexer.structured import LineParser
from tests.support.kafka import committed_offsets, ends_of
from tests.support.processes import IndexerProcess, spawned_core, wait_for


def cluster(url: str) -> SearchClient:
    """The indexer's own client on `url`, in the dialect the bed answers with."""
    return connect(
        ElasticsearchSettings(hosts=[url], request_timeout_seconds=30, startup_timeout_seconds=30)
    )


# Where events are stored: app, shared and unmatched indices, never the dead letters (a dead
# letter carries its message's _id, so counting it would pass a dead-lettered event as stored).
STORED = "k8s-logs-*_*,k8s-logs-unmatched-*"
DEADLETTERS = "k8s-logs-deadletter-*"
# How each product names a field-type refusal (REAL-CLUSTERS.md §6: Elasticsearch since 8.8).
PARSING_ERROR = {
    "elasticsearch": "document_parsing_exception",
    "opensearch": "mapper_parsing_exception",
}
_OPTIONAL = {"ignore_unavailable": "true", "allow_no_indices": "true"}


def documents(es_url: str, index: str = STORED) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every document in `index`, by the Kafka record it came from (`topic:partition:offset`,
    from its `kafka.*` fields): (index, source). Fails on a record or an _id stored twice."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for doc_id, (index_name, source) in documents_by_id(es_url, index).items():
        record = record_of(source)
        assert record not in found, f"record {record} stored twice (as {doc_id} too)"
        found[record] = (index_name, source)
    return found


def record_of(source: dict[str, Any]) -> str:
    """`topic:partition:offset` of the Kafka record a stored document came from."""
    kafka = source["kafka"]
    return f"{kafka['topic']}:{kafka['partition']}:{kafka['offset']}"


def documents_by_id(es_url: str, index: str = STORED) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every document in `index`, by _id: (index, source). Fails on an _id seen twice."""
    es = cluster(es_url)
    try:
        es.request("POST", f"/{index}/_refresh", params=_OPTIONAL)
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        answer = es.request(
            "POST",
            f"/{index}/_search",
            {"query": {"match_all": {}}, "size": 5000, "sort": ["_doc"]},
            {"scroll": "1m", **_OPTIONAL},
        )
        while answer["hits"]["hits"]:
            for hit in answer["hits"]["hits"]:
                assert hit["_id"] not in found, f"{hit['_id']} stored twice"
                found[hit["_id"]] = (hit["_index"], hit["_source"])
            answer = es.request(
                "POST", "/_search/scroll", {"scroll": "1m", "scroll_id": answer["_scroll_id"]}
            )
        return found
    finally:
        es.close()


def deadletters(es_url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every dead letter in the dead-letter indices, by _id: (index, source)."""
    return documents_by_id(es_url, DEADLETTERS)


def expected_source(value: bytes) -> dict[str, Any]:
    """What a produced event must look like once stored, for the fields it was produced with:
    the event itself, without `@metadata` (never indexed, docid.py), its line parsed by the
    indexer's own parser with the default settings (structured.py: a JSON or logfmt line's own
    `message`, `log.level`; tests/unit/test_structured.py and test_structured_lines.py test that
    parsing on its own). Produced "now", so the bounds are measured from now."""
    event = decoded(value)
    event.pop("@metadata", None)
    routing = RoutingSettings()
    days = DayResolver(routing.max_past, routing.max_future)
    LineParser(ParsingSettings(), days.within).parse(event, time.time())
    return event


def settled(indexer: IndexerProcess) -> bool:
    """Every event it consumed has its outcome counted (indexed, duplicate or dead letter)."""
    outcomes = sum(
        indexer.metric(name)
        for name in (
            "indexer_events_indexed_total",
            "indexer_events_duplicate_total",
            "indexer_events_deadlettered_total",
        )
    )
    return outcomes == indexer.metric("indexer_events_consumed_total")


def finish_and_check(
    bootstrap: str,
    es_url: str,
    produced: dict[str, bytes],
    running: Iterable[IndexerProcess],
    *,
    duplicates_possible: bool,
    timeout: float = 60,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The end of every fault test: wait until everything is stored, then prove it was stored
    and not dead-lettered, once, with its content, and committed.

    - every running indexer said it runs the core the test chose (`spawned_core`);
    - every running indexer's counters settle, none counted a dead letter, and (unless
      `duplicates_possible`: a request that may have reached the server was re-sent) none
      counted a duplicate; each stops cleanly;
    - the dead-letter indices hold nothing;
    - the stored documents are exactly the produced records, each with every field it was
      produced with, unchanged;
    - the group's committed offsets, read from the broker, are the end of every partition.
    Returns the stored documents by record."""
    running = list(running)
    try:
        wait_for(lambda: count(es_url) >= len(produced), timeout, "everything stored")
    except AssertionError as exc:
        found = (
            f"{count(es_url)} of {len(produced)} stored, {count(es_url, DEADLETTERS)} dead letters"
        )
        raise AssertionError(f"{exc} ({found})") from None
    for indexer in running:
        wait_for(lambda i=indexer: settled(i), 30, "the indexer's outcome counters to settle")  # type: ignore[misc]
        expected_core = indexer.env.get("INDEXER_CORE", spawned_core())
        assert indexer.core() == expected_core, (indexer.core(), expected_core, indexer.log_path)
        assert indexer.metric("indexer_events_deadlettered_total") == 0, indexer.log_path
        if not duplicates_possible:
            assert indexer.metric("indexer_events_duplicate_total") == 0, indexer.log_path
    for indexer in running:
        assert indexer.stop() == 0, indexer.log_path
    assert deadletters(es_url) == {}
    stored = documents(es_url)
    assert stored.keys() == produced.keys()
    for record, (_, source) in stored.items():
        expected = expected_source(produced[record])
        assert {key: source.get(key) for key in expected} == expected, record
    assert committed_offsets(bootstrap) == ends_of(produced)
    return stored


def count(es_url: str, index: str = STORED) -> int:
    es = cluster(es_url)
    try:
        es.request("POST", f"/{index}/_refresh", params=_OPTIONAL)
        return int(es.request("GET", f"/{index}/_count", params=_OPTIONAL)["count"])
    finally:
        es.close()


def decoded(value: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(value)
    return parsed
