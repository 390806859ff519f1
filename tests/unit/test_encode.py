"""The encoder: one `create` line and the document, with Kafka coordinates and `event.ingested`."""

from __future__ import annotations

from typing import Any

import orjson

from indexer.encode import encode_event, ingested_field

INGESTED = ingested_field(1_764_158_400.123)  # fixed on purpose: only the shape matters
STAMP = b"2025-11-26T12:00:00.123Z"
KUBERNETES = b',"kubernetes":{"namespace":"a"},"service":{"name":"b"}'


def _document(event: dict[str, Any], fields: bytes = b"") -> dict[str, Any]:
    lines = encode_event(
        "k8s-logs-a_b-2026.11.26", b"id", event, fields, "filebeat", 2, 7, INGESTED
    )
    action, document, rest = lines.split(b"\n")
    assert rest == b""
    assert orjson.loads(action) == {"create": {"_index": "k8s-logs-a_b-2026.11.26", "_id": "id"}}
    parsed: dict[str, Any] = orjson.loads(document)
    # A key twice would be refused by Elasticsearch's parser (duplicate field): count them.
    assert document.count(b'"event":') <= 1 and document.count(b'"kafka":') == 1
    return parsed


def test_the_stamp_is_the_shape_filebeat_writes() -> None:
    assert INGESTED == b',"event":{"ingested":"' + STAMP + b'"}'


def test_an_event_gets_its_coordinates_and_the_batch_ingest_time() -> None:
    assert _document({"message": "hi"}) == {
        "message": "hi",
        "event": {"ingested": STAMP.decode()},
        "kafka": {"topic": "filebeat", "partition": 2, "offset": 7},
    }
    assert _document({}) == {
        "event": {"ingested": STAMP.decode()},
        "kafka": {"topic": "filebeat", "partition": 2, "offset": 7},
    }
    assert _document({"message": "hi"}, KUBERNETES) == {
        "message": "hi",
        "kubernetes": {"namespace": "a"},
        "service": {"name": "b"},
        "event": {"ingested": STAMP.decode()},
        "kafka": {"topic": "filebeat", "partition": 2, "offset": 7},
    }
    assert _document({}, KUBERNETES)["kubernetes"] == {"namespace": "a"}


def test_an_event_with_its_own_event_or_kafka_object_gets_ours_merged_into_it() -> None:
    found = _document({"event": {"original": "raw"}, "kafka": {"key": "k"}}, KUBERNETES)
    assert found["service"] == {"name": "b"}
    assert found["event"] == {"original": "raw", "ingested": STAMP.decode()}
    assert found["kafka"] == {"key": "k", "topic": "filebeat", "partition": 2, "offset": 7}
    assert _document({"event": {"ingested": "theirs"}})["event"] == {"ingested": STAMP.decode()}


def test_an_event_whose_event_is_not_an_object_keeps_it_without_a_stamp() -> None:
    found = _document({"event": "started", "kafka": 5})
    assert found["event"] == "started"
    assert found["kafka"] == {"original": 5, "topic": "filebeat", "partition": 2, "offset": 7}
