"""Encode: a document → one `create` action line plus the document line (NDJSON).

`create` makes Elasticsearch answer 409 for an `_id` it already holds instead of storing the
document twice; the id itself comes from `docid.py`. An event also gets its Kafka coordinates
(`kafka.topic`, `kafka.partition`, `kafka.offset`), for replays and for finding its record, and
`event.ingested`: ECS's "timestamp when an event arrived in the central data store", stamped
once per batch the poll loop takes from Kafka (`ingested_stamp`), so it is at most a batch's age
plus one bulk early (later only for a retried or parked document). It is not part of the
`_id`, so a re-delivered copy still meets its first one (409), which keeps the first stamp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

_ACTION = b'{"create":{"_index":"%b","_id":"%b"}}\n'
# Both lines of an event in one formatting: the coordinates go where the event's `}` was.
_EVENT = (
    _ACTION + b'%b,"event":{"ingested":"%b"},"kafka":{"topic":"%b","partition":%d,"offset":%d}}\n'
)
_EMPTY = (
    _ACTION + b'{"event":{"ingested":"%b"},"kafka":{"topic":"%b","partition":%d,"offset":%d}}\n'
)


def ingested_stamp(seconds: float | None = None) -> bytes:
    """`event.ingested` for documents encoded now (or at `seconds`): `2026-11-26T12:00:00.000Z`."""
    when = datetime.fromtimestamp(time.time() if seconds is None else seconds, UTC)
    return (when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z").encode()


def encode(index: str, doc_id: bytes, document: dict[str, Any]) -> bytes:
    """Both NDJSON lines for one document, newline-terminated. `doc_id` is JSON-escaped.

    Raises orjson.JSONEncodeError (a TypeError) for a document orjson cannot write, such as one
    nested deeper than 254 levels."""
    return _ACTION % (index.encode(), doc_id) + orjson.dumps(document) + b"\n"


def encode_event(
    index: str,
    doc_id: bytes,
    event: dict[str, Any],
    topic: str,
    partition: int,
    offset: int,
    ingested: bytes,
) -> bytes:
    """`encode` for an event consumed from `topic`/`partition` at `offset`, with those and
    `event.ingested` (from `ingested_stamp`).

    Kafka topic names hold only `[a-zA-Z0-9._-]`, so they need no escaping. An event with a
    `kafka` or `event` key of its own gets ours merged into it instead (an `event` that is not an
    object is left as it is, without `ingested`).
    """
    if "kafka" in event or "event" in event:
        kafka = event.get("kafka")
        if type(kafka) is not dict:
            kafka = event["kafka"] = {} if kafka is None else {"original": kafka}
        kafka.update(topic=topic, partition=partition, offset=offset)
        own = event.get("event")
        if own is None:
            event["event"] = {"ingested": ingested.decode()}
        elif type(own) is dict:
            own["ingested"] = ingested.decode()
        return encode(index, doc_id, event)
    body = orjson.dumps(event)
    if len(body) == 2:  # {}
        return _EMPTY % (index.encode(), doc_id, ingested, topic.encode(), partition, offset)
    return _EVENT % (index.encode(), doc_id, body[:-1], ingested, topic.encode(), partition, offset)
