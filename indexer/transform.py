"""Transform: one Kafka message → its index and NDJSON lines (decode → route → encode).

The single definition used by the poll loop and the replays, so a message always becomes the same
document, in the same index, under the same `_id`. An undecodable message becomes its dead
letter, in the dead-letter index of its Kafka timestamp's day.
"""

from __future__ import annotations

from indexer.deadletter import deadletter_document
from indexer.decode import DecodeError, decode
from indexer.encode import encode
from indexer.route import Router


def transform(
    router: Router,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    seconds: float,
) -> tuple[str, bytes, str | None]:
    """(index, lines, decode error kind or None). `seconds` is the message's Kafka time."""
    try:
        event = decode(value)
    except DecodeError as exc:
        index = router.deadletter_index(seconds)
        document = deadletter_document(
            value=value,
            topic=topic,
            partition=partition,
            offset=offset,
            kafka_seconds=seconds,
            error_type=exc.kind,
            reason=exc.reason,
        )
        return index, encode(index, topic, partition, offset, document), exc.kind
    index = router.route(event, seconds)
    return index, encode(index, topic, partition, offset, event), None
