"""How Elasticsearch reads the values the definition files hold: time values, index settings
in either spelling, and the order of lifecycle phases. No I/O; imported by every step of setup.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

PHASES = ("hot", "warm", "cold", "frozen", "delete")

_DURATION = re.compile(r"^(?P<n>\d+)(?P<unit>nanos|micros|ms|s|m|h|d)$")
_UNIT_SECONDS = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


def parse_duration(text: str) -> timedelta:
    """An Elasticsearch time value (`7d`, `12h`, `0ms`); ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time value such as 7d, 12h or 0ms")
    return timedelta(seconds=int(match["n"]) * _UNIT_SECONDS[match["unit"]])


def flatten_settings(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Index settings as dotted keys, each starting with `index.` (as Elasticsearch reads them)."""
    flat: dict[str, Any] = {}
    if not isinstance(settings, dict):
        return flat
    for key, value in settings.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_settings(value, dotted + "."))
        else:
            flat[dotted] = value
    if not prefix:
        flat = {k if k.startswith("index.") else "index." + k: v for k, v in flat.items()}
    return flat
