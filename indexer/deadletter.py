"""Dead letters: what is written when a message cannot be indexed as itself.

A dead letter keeps the original message byte-exact (`event.original`, or
`event.original_base64` when it is not UTF-8), says why (`error.type`, `error.message`), and where
it came from (`kafka.*`), and which index refused it (`deadletter.target_index`). It is indexed
under the same `_id` as the message would have been, so it is never written twice either.
"""

from __future__ import annotations

import base64
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
