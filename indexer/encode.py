"""Encode: a document → one `create` action line plus the document line (NDJSON).

`create` makes Elasticsearch answer 409 for an `_id` it already holds instead of storing the
document twice; the id itself comes from `docid.py`. An event also gets its Kafka coordinates
(`kafka.topic`, `kafka.partition`, `kafka.offset`), for replays and for finding its record.
"""

from __future__ import annotations

from typing import Any

import orjson

_ACTION = b'{"create":{"_index":"%b","_id":"%b"}}\n'
# Both lines of an event in one formatting: the coordinates go where the event's `}` was.
_EVENT = _ACTION + b'%b,"kafka":{"topic":"%b","partition":%d,"offset":%d}}\n'
_EMPTY = _ACTION + b'{"kafka":{"topic":"%b","partition":%d,"offset":%d}}\n'


def encode(index: str, doc_id: bytes, document: dict[str, Any]) -> bytes:
    """Both NDJSON lines for one document, newline-terminated. `doc_id` is JSON-escaped.

    Raises orjson.JSONEncodeError (a TypeError) for a document orjson cannot write, such as one
    nested deeper than 254 levels."""
    return _ACTION % (index.encode(), doc_id) + orjson.dumps(document) + b"\n"


def encode_event(
    index: str, doc_id: bytes, event: dict[str, Any], topic: str, partition: int, offset: int
) -> bytes:
    """`encode` for an event consumed from `topic`/`partition` at `offset`, with those.

    Kafka topic names hold only `[a-zA-Z0-9._-]`, so they need no escaping. An event with a
    `kafka` key of its own gets the coordinates merged into it instead.
    """
    if "kafka" in event:
        kafka = event["kafka"]
        if type(kafka) is not dict:
            kafka = event["kafka"] = {"original": kafka}
        kafka.update(topic=topic, partition=partition, offset=offset)
        return encode(index, doc_id, event)
    body = orjson.dumps(event)
    if len(body) == 2:  # {}
        return _EMPTY % (index.encode(), doc_id, topic.encode(), partition, offset)
    return _EVENT % (index.encode(), doc_id, body[:-1], topic.encode(), partition, offset)
