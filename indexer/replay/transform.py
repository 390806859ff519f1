"""Message → index and NDJSON lines, exactly as the pipeline's poll loop does it.

decode → route → encode; an undecodable message becomes its dead letter (in the index of its
Kafka timestamp's day), with the same `_id` it would have had.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.replay.scope import identity_of_index
from indexer.route import Router
from indexer.transform import transform as transform_message


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
    index, line, undecodable = transform_message(router, value, topic, partition, offset, seconds)
    identity = None if undecodable else identity_of_index(prefix, index)
    return Routed(index, line, identity, undecodable)
