"""Dead letters: what is written when a message cannot be indexed as itself.

A dead letter keeps the original message byte-exact (`event.original`, or
`event.original_base64` when it is not UTF-8), says why (`error.type`, `error.message`), and where
it came from (`kafka.*`), and which index refused it (`deadletter.target_index`). It is indexed
under the same `_id` as the message would have been, so it is never written twice either.
"""

from __future__ import annotations

import base64
from collections import deque
from datetime import UTC, datetime
from typing import Any

MAX_REASON_CHARS = 2000


def deadletter_document(
    *,
    value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    kafka_seconds: float,
    error_type: str,
    reason: str,
    target_index: str | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@timestamp": datetime.fromtimestamp(kafka_seconds, UTC).isoformat(timespec="milliseconds"),
        "error": {"type": error_type, "message": reason[:MAX_REASON_CHARS]},
        "kafka": {"topic": topic, "partition": partition, "offset": offset},
        "event": _original(value or b""),
    }
    if target_index is not None:
        document["deadletter"] = {"target_index": target_index}
    return document


def _original(value: bytes) -> dict[str, str]:
    try:
        return {"original": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"original_base64": base64.b64encode(value).decode("ascii")}


def original_bytes(document: dict[str, Any]) -> bytes:
    """The message bytes a dead letter preserved (for replay)."""
    event = document.get("event", {})
    if "original_base64" in event:
        return base64.b64decode(event["original_base64"])
    return str(event.get("original", "")).encode("utf-8")


class DeadLetterBreaker:
    """Trips when too large a share of the recent messages were dead-lettered.

    A few dead letters are bad data; most of them means a broken template or cluster, and
    dead-lettering everything would only move the whole stream aside. Fed per finished batch.
    """

    def __init__(self, share: float, window: int) -> None:
        self._share = share
        self._window = window
        self._recent: deque[tuple[int, int]] = deque()
        self._documents = 0
        self._deadlettered = 0

    def record(self, documents: int, deadlettered: int) -> str | None:
        """Add a batch's counts; return why the breaker trips, or None."""
        self._recent.append((documents, deadlettered))
        self._documents += documents
        self._deadlettered += deadlettered
        while self._recent and self._documents - self._recent[0][0] >= self._window:
            old_documents, old_deadlettered = self._recent.popleft()
            self._documents -= old_documents
            self._deadlettered -= old_deadlettered
        if self._share >= 1 or self._documents < self._window:
            return None
        if self._deadlettered > self._share * self._documents:
            return (
                f"dead-letter circuit breaker: {self._deadlettered} of the last {self._documents} "
                f"messages were dead-lettered (more than {self._share:.0%}); a template, mapping "
                "or cluster problem is likely. Offsets after them are not committed; fix the "
                "cause, then restart (and replay the dead letters with `indexer deadletter replay`)"
            )
        return None
