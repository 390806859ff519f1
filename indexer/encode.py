"""Encode: a document → one `create` action line plus the document line (NDJSON).

`create` makes Elasticsearch answer 409 for an `_id` it already holds instead of storing the
document twice; the id itself comes from `docid.py`. An event also gets its Kafka coordinates
(`kafka.topic`, `kafka.partition`, `kafka.offset`), for replays and for finding its record, and
`event.ingested`: ECS's "timestamp when an event arrived in the central data store", stamped
once per batch the poll loop takes from Kafka (`ingested_field`), so it is at most a batch's age
plus one bulk early (later only for a retried or parked document). It is not part of the
`_id`, so a re-delivered copy still meets its first one (409), which keeps the first stamp.

Our own action lines are read back here too, where their shape is written (`action_id`,
`action_index`, `pointed_at`): they assume a line made by `encode` or `encode_event` and raise
ValueError for any other.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from indexer.route import iso_timestamp

_ACTION = b'{"create":{"_index":"%b","_id":"%b"}}\n'
# encode_event's pieces, joined once: a `%` format of the whole line walks its template byte by
# byte and grows its buffer, which costs more per event (callgrind) than the id's hash.
_CREATE, _ID, _SOURCE = b'{"create":{"_index":"', b'","_id":"', b'"}}\n'
_TOPIC, _PARTITION_OFFSET = b',"kafka":{"topic":"', b'","partition":%d,"offset":%d}}\n'
_INGESTED = b',"event":{"ingested":"'


def ingested_field(seconds: float | None = None) -> bytes:
    """The `,"event":{"ingested":"2026-11-26T12:00:00.000Z"}` piece for documents encoded now
    (or at `seconds`): made once per batch, spliced into each of its events."""
    return _INGESTED + iso_timestamp(time.time() if seconds is None else seconds).encode() + b'"}'


def encode(index: str, doc_id: bytes, document: dict[str, Any]) -> bytes:
    """Both NDJSON lines for one document, newline-terminated. `doc_id` is JSON-escaped.

    Raises orjson.JSONEncodeError (a TypeError) for a document orjson cannot write, such as one
    nested deeper than 254 levels."""
    return _ACTION % (index.encode(), doc_id) + orjson.dumps(document) + b"\n"


def encode_event(
    index: str,
    doc_id: bytes,
    event: dict[str, Any],
    fields: bytes,
    topic: str,
    partition: int,
    offset: int,
    ingested: bytes,
) -> bytes:
    """`encode` for an event consumed from `topic`/`partition` at `offset`, with those, with
    `fields` (`,"key":value` pairs for keys the event does not have, or b"") spliced in where the
    event's `}` was, and with `event.ingested` (`ingested`, from `ingested_field`).

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
        stamp = ingested[len(_INGESTED) : -2].decode()
        if own is None:
            event["event"] = {"ingested": stamp}
        elif type(own) is dict:
            own["ingested"] = stamp
        body = orjson.dumps(event)
        return _ACTION % (index.encode(), doc_id) + body[:-1] + fields + b"}\n"
    body = orjson.dumps(event)
    tail = _PARTITION_OFFSET % (partition, offset)
    if len(body) == 2:  # {}: what follows it takes no leading comma
        head = _ACTION % (index.encode(), doc_id)
        return head + b"{" + (fields + ingested + _TOPIC + topic.encode() + tail)[1:]
    return b"".join(
        (
            _CREATE,
            index.encode(),
            _ID,
            doc_id,
            _SOURCE,
            body[:-1],
            fields,
            ingested,
            _TOPIC,
            topic.encode(),
            tail,
        )
    )


def action_id(line: bytes) -> bytes:
    """The `_id` of one of our own action lines, JSON-escaped as it stands there."""
    # {"create":{"_index":"NAME","_id":"ID"}}\n  (an escaped id holds no bare quote)
    start = line.index(b'"_id":"') + 7
    return line[start : line.index(b"\n") - 3]


def action_id_text(line: bytes) -> str:
    """`action_id`, unescaped (for requests that name the document)."""
    text: str = orjson.loads(b'"%b"' % action_id(line))
    return text


def action_index(line: bytes) -> str:
    """The `_index` of one of our own `create` action lines."""
    # Our own action lines: {"create":{"_index":"NAME","_id":...
    start = line.index(b'"_index":"') + 10
    return line[start : line.index(b'"', start)].decode()


def pointed_at(line: bytes, index: str, target: str) -> bytes:
    """One of our own lines for `index`, written to `target` instead (the rest unchanged)."""
    return line.replace(b'"_index":"%s"' % index.encode(), b'"_index":"%s"' % target.encode(), 1)
