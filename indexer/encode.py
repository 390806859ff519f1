"""Encode: a document → one `create` action line plus the document line (NDJSON).

`create` makes Elasticsearch answer 409 for an `_id` it already holds instead of storing the
document twice; the id itself comes from `docid.py`. An event also gets its Kafka coordinates
(`kafka.topic`, `kafka.partition`, `kafka.offset`), for replays and for finding its record.
"""

from __future__ import annotations

from typing import Any

import orjson

_ACTION = b'{"create":{"_index":"%b","_id":"%b"}}\n'
_KAFKA = b',"kafka":{"topic":"%b","partition":%d,"offset":%d}}\n'


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
    kafka = _KAFKA % (topic.encode(), partition, offset)
    if len(body) == 2:  # {}: what follows it takes no leading comma
        return _ACTION % (index.encode(), doc_id) + b"{" + (fields + kafka)[1:]
    # Joined by `+`: cheaper than one `%` that copies the whole body through its writer.
    return _ACTION % (index.encode(), doc_id) + body[:-1] + fields + kafka
