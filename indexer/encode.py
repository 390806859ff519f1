"""Encode: a document → one `create` action line plus the document line (NDJSON).

`create` makes Elasticsearch answer 409 for an `_id` it already holds instead of storing the
document twice; the id itself comes from `docid.py`. An event also gets its Kafka coordinates
(`kafka.topic`, `kafka.partition`, `kafka.offset`), for replays and for finding its record.
"""

from __future__ import annotations

from typing import Any

import orjson

_ACTION = b'{"create":{"_index":"%b","_id":"%b"}}\n'
# encode_event's pieces, joined once: a `%` format of the whole line walks its template byte by
# byte and grows its buffer, which costs more per event (callgrind) than the id's hash.
_CREATE, _ID, _SOURCE = b'{"create":{"_index":"', b'","_id":"', b'"}}\n'
_TOPIC, _PARTITION_OFFSET = b',"kafka":{"topic":"', b'","partition":%d,"offset":%d}}\n'


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
) -> bytes:
    """`encode` for an event consumed from `topic`/`partition` at `offset`, with those, and
    with `fields` (`,"key":value` pairs for keys the event does not have, or b"") spliced in
    where the event's `}` was.

    Kafka topic names hold only `[a-zA-Z0-9._-]`, so they need no escaping. An event with a
    `kafka` key of its own gets the coordinates merged into it instead.
    """
    if "kafka" in event:
        kafka = event["kafka"]
        if type(kafka) is not dict:
            kafka = event["kafka"] = {"original": kafka}
        kafka.update(topic=topic, partition=partition, offset=offset)
        body = orjson.dumps(event)
        return _ACTION % (index.encode(), doc_id) + body[:-1] + fields + b"}\n"
    body = orjson.dumps(event)
    tail = _PARTITION_OFFSET % (partition, offset)
    if len(body) == 2:  # {}: what follows it takes no leading comma
        head = _ACTION % (index.encode(), doc_id)
        return head + b"{" + (fields + _TOPIC + topic.encode() + tail)[1:]
    return b"".join(
        (
            _CREATE,
            index.encode(),
            _ID,
            doc_id,
            _SOURCE,
            body[:-1],
            fields,
            _TOPIC,
            topic.encode(),
            tail,
        )
    )
