"""Decode: Kafka message bytes → filebeat event (a JSON object), or a DecodeError saying why not."""

from __future__ import annotations

from typing import Any

import orjson


class DecodeError(ValueError):
    """A message that is not a filebeat event. `kind` is the dead-letter reason."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def decode(value: bytes | None) -> dict[str, Any]:
    """Parse one filebeat event (7.17 or 8.x shape, any key order).

    Raises DecodeError with kind `empty_message`, `invalid_utf8`, `invalid_json` or `not_an_object`.
    """
    if not value:
        raise DecodeError("empty_message", "the Kafka message has no value")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        if "utf-8" in str(exc).lower():
            raise DecodeError("invalid_utf8", f"not valid UTF-8: {exc}") from None
        raise DecodeError("invalid_json", f"not valid JSON: {exc}") from None
    if type(event) is not dict:
        raise DecodeError("not_an_object", f"JSON {type(event).__name__}, not an object")
    return event
