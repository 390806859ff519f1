"""The shape of a dead letter: what is written when a message cannot be indexed as itself.

A dead letter keeps the original message byte-exact (`event.original`, or
`event.original_base64` when it is not UTF-8) up to `max_original_bytes`, says why (`error.type`,
`error.message`), and where it came from (`kafka.*`), and which index refused it
(`deadletter.target_index`). `deadletter.original_size` and `deadletter.original_sha256` describe
the whole original, and `deadletter.truncated` says whether only its first bytes were kept (cut on
a UTF-8 character boundary): the full message is then read from its source topic by its
coordinates. It is indexed under the same `_id` as the message would have been, so it is never
written twice either.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from indexer.settings import DeadLetterSettings

MAX_REASON_CHARS = 2000
DEFAULT_MAX_ORIGINAL_BYTES: int = DeadLetterSettings.model_fields["max_original_bytes"].default
"""The default of `deadletter.max_original_bytes` (settings.py says why this number)."""


@dataclass(frozen=True)
class Original:
    """What a dead letter keeps of a message's bytes, and what describes the whole of them."""

    kept: bytes
    size: int
    sha256: str

    @property
    def truncated(self) -> bool:
        return len(self.kept) < self.size


def keep_original(value: bytes | None, limit: int) -> Original:
    """At most `limit` bytes of `value` (a prefix), with the size and SHA-256 of all of it."""
    whole = value or b""
    return Original(_prefix(whole, limit), len(whole), hashlib.sha256(whole).hexdigest())


def _prefix(value: bytes, limit: int) -> bytes:
    if len(value) <= limit:
        return value
    end = max(limit, 0)
    # Cut before a character, not inside one, so a UTF-8 message stays text when shortened
    # (a UTF-8 character is at most 4 bytes; continuation bytes are 0b10xxxxxx).
    while end > 0 and limit - end < 3 and value[end] & 0xC0 == 0x80:
        end -= 1
    return value[:end]


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
    max_original_bytes: int = DEFAULT_MAX_ORIGINAL_BYTES,
) -> dict[str, Any]:
    original = keep_original(value, max_original_bytes)
    about: dict[str, Any] = {
        "original_size": original.size,
        "original_sha256": original.sha256,
        "truncated": original.truncated,
    }
    if target_index is not None:
        about["target_index"] = target_index
    return {
        "@timestamp": datetime.fromtimestamp(kafka_seconds, UTC).isoformat(timespec="milliseconds"),
        "error": {"type": error_type, "message": reason[:MAX_REASON_CHARS]},
        "kafka": {"topic": topic, "partition": partition, "offset": offset},
        "event": _original(original.kept),
        "deadletter": about,
    }


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
