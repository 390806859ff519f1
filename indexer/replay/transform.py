"""Message → index and NDJSON lines, exactly as the pipeline's poll loop does it.

decode → route → encode; an undecodable message becomes its dead letter (in the index of its
Kafka timestamp's day), with the same `_id` it would have had.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.deadletter import deadletter_document
from indexer.decode import DecodeError, decode
from indexer.encode import encode
from indexer.replay.scope import identity_of_index
from indexer.route import Router


@dataclass(frozen=True)
class Routed:
    index: str
    line: bytes
    identity: tuple[str, str] | None
    """(namespace, app) of the index, None for unmatched and dead-letter indices."""
    undecodable: str | None = None
    """The decode error kind when `line` is the message's dead letter."""


def transform(
    router: Router,
    prefix: str,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    seconds: float,
) -> Routed:
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
        return Routed(index, encode(index, topic, partition, offset, document), None, exc.kind)
    index = router.route(event, seconds)
    return Routed(
        index, encode(index, topic, partition, offset, event), identity_of_index(prefix, index)
    )
