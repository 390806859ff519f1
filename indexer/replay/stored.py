"""Dead letters read back from Elasticsearch, and dressed as Kafka messages for the writer.

`BulkWriter` dead-letters a refused document from its batch's message (`value()`, `topic()`,
`partition()`, `offset()`, `timestamp()`). A replayed dead letter answers those from what it
preserved, so a document refused again is dead-lettered under the same `_id`, into the index of
the same day: that write meets the dead letter already there (409) and nothing is duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from indexer.dead_letter_shape import original_bytes

TIMESTAMP_CREATE_TIME = 1  # confluent_kafka.TIMESTAMP_CREATE_TIME, without importing it


class MalformedDeadLetter(ValueError):
    """A document in a dead-letter index that lacks what a replay needs."""


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter: where it is stored, what it preserved and why it was written."""

    index: str
    id: str
    seconds: float
    """Its `@timestamp`: the Kafka timestamp of the original message."""
    error_type: str
    target_index: str | None
    topic: str
    partition: int
    offset: int
    original: bytes

    @classmethod
    def from_hit(cls, hit: dict[str, Any]) -> DeadLetter:
        """Read a search hit. Raises MalformedDeadLetter when a needed field is missing."""
        source = hit.get("_source") or {}
        kafka = source.get("kafka")
        error = source.get("error")
        try:
            seconds = datetime.fromisoformat(str(source["@timestamp"])).timestamp()
            if not isinstance(kafka, dict) or not isinstance(error, dict):
                raise KeyError("kafka" if not isinstance(kafka, dict) else "error")
            topic, partition, offset = (
                str(kafka["topic"]),
                int(kafka["partition"]),
                int(kafka["offset"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedDeadLetter(f"{hit.get('_index')}/{hit.get('_id')}: {exc}") from None
        target = (source.get("deadletter") or {}).get("target_index")
        return cls(
            index=str(hit["_index"]),
            id=str(hit["_id"]),
            seconds=seconds,
            error_type=str(error.get("type", "unknown")),
            target_index=str(target) if target else None,
            topic=topic,
            partition=partition,
            offset=offset,
            original=original_bytes(source),
        )


@dataclass(frozen=True)
class StoredMessage:
    """A dead letter in the shape of a `confluent_kafka.Message`, as far as the writer looks."""

    letter: DeadLetter

    def value(self) -> bytes:
        return self.letter.original

    def topic(self) -> str:
        return self.letter.topic

    def key(self) -> None:
        return None

    def partition(self) -> int:
        return self.letter.partition

    def offset(self) -> int:
        return self.letter.offset

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, round(self.letter.seconds * 1000)

    def error(self) -> None:
        return None
