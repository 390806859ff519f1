"""Encode: an event and its Kafka coordinates → one `create` action line plus the document line.

The `_id` is `<topic>:<partition>:<offset>`. Topic names cannot contain `:`, so ids never
collide, and a re-delivered message always carries its first copy's id: Elasticsearch answers
409 instead of storing it twice.
"""

from __future__ import annotations

from typing import Any

import orjson

_ACTION = b'{"create":{"_index":"%s","_id":"%s:%d:%d"}}\n'


def document_id(topic: str, partition: int, offset: int) -> str:
    return f"{topic}:{partition}:{offset}"


def encode(index: str, topic: str, partition: int, offset: int, document: dict[str, Any]) -> bytes:
    """Both NDJSON lines for one document, newline-terminated."""
    return (
        _ACTION % (index.encode(), topic.encode(), partition, offset)
        + orjson.dumps(document)
        + b"\n"
    )
