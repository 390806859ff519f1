"""Transform: one Kafka message → its index and NDJSON lines (decode → route → encode).

The single definition used by the poll loop and the replays, so a message always becomes the same
document, in the same index, under the same `_id` (docid.py). A message that cannot become a
document becomes its dead letter, in the dead-letter index of its Kafka timestamp's day: one that
does not decode (its decode error kind is the reason), and one whose document cannot be written
as JSON (`unencodable`: nested deeper than orjson writes).
"""

from __future__ import annotations

import orjson

from indexer.dead_letter_shape import deadletter_document
from indexer.decode import DecodeError, decode
from indexer.docid import event_id, message_id
from indexer.encode import encode, encode_event, ingested_field
from indexer.route import Router

UNENCODABLE = "unencodable"
loads = orjson.loads


def transform(
    router: Router,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    seconds: float,
    ingested: bytes | None = None,
) -> tuple[str, bytes, str | None]:
    """(index, lines, dead-letter reason or None). `seconds` is the message's Kafka time;
    `ingested` the batch's `event.ingested` (`encode.ingested_field`; now when not given)."""
    # decode(), inline for the common case (a call less per event); anything else goes
    # through it again for its reason (orjson refuses None and b"" too).
    try:
        event = loads(value)  # type: ignore[arg-type]
    except orjson.JSONDecodeError:
        event = None
    if event.__class__ is not dict:
        try:
            event = decode(value)
        except DecodeError as exc:
            return _deadletter(
                router, value, topic, partition, offset, seconds, exc.kind, exc.reason
            )
    assert value is not None  # decode refuses an empty message
    doc_id = event_id(event, value)
    index, spliced = router.place(event, seconds)
    fields = b"" if spliced is None else spliced.fields
    try:
        stamp = ingested_field() if ingested is None else ingested
        lines = encode_event(index, doc_id, event, fields, topic, partition, offset, stamp)
        return index, lines, None
    except orjson.JSONEncodeError as exc:
        reason = f"the event cannot be written as JSON: {exc}"
        return _deadletter(
            router, value, topic, partition, offset, seconds, UNENCODABLE, reason, doc_id
        )


def _deadletter(
    router: Router,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    seconds: float,
    kind: str,
    reason: str,
    doc_id: bytes | None = None,
) -> tuple[str, bytes, str]:
    index = router.deadletter_index(seconds)
    document = deadletter_document(
        value=value,
        topic=topic,
        partition=partition,
        offset=offset,
        kafka_seconds=seconds,
        error_type=kind,
        reason=reason,
    )
    return index, encode(index, doc_id or message_id(value), document), kind
