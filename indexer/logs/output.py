"""How `indexer logs` prints a line: `raw` (the line as the app wrote it), `wide` (time, pod,
container, level, then the line), `json` (the stored document, one per line, for `jq`).

The line as written is `event.original` when the indexer kept it (`parsing.keep_original`),
else `message`: for a plain line that is the line itself; for a JSON or logfmt line the parser
lifted its own message there (structured.py), which is what a reader wants to see.

Colour (by level: red for error and above, yellow for warnings, dim for debug and trace) only
when asked, and the CLI asks only when standard output is a terminal and `NO_COLOR` is unset
(https://no-color.org), so a pipe never gets escape codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson

from indexer.logs.query import LEVEL_RANKS

Format = Literal["raw", "wide", "json"]
# What each format reads from a document (`_source` filtering keeps pages small); follow.py
# needs `kafka` and `event.ingested` for its bookkeeping.
_BOOKKEEPING = ["kafka", "event.ingested"]
SOURCE: dict[str, list[str] | bool] = {
    "raw": ["message", "event.original", "log.level", *_BOOKKEEPING],
    "wide": [
        "@timestamp",
        "message",
        "event.original",
        "log.level",
        "kubernetes.pod.name",
        "kubernetes.container.name",
        *_BOOKKEEPING,
    ],
    "json": True,
}
_RESET = "\x1b[0m"
_COLOURS = {6: "\x1b[1;31m", 5: "\x1b[31m", 4: "\x1b[33m", 1: "\x1b[2m", 0: "\x1b[2m"}


def _get(source: dict[str, Any], *path: str) -> Any:
    node: Any = source
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def line_of(source: dict[str, Any]) -> str:
    original = _get(source, "event", "original")
    text = original if isinstance(original, str) else source.get("message")
    return "" if text is None else text if isinstance(text, str) else orjson.dumps(text).decode()


def formatter(kind: Format, colour: bool) -> Callable[[dict[str, Any]], str]:
    """A function from a search hit to its printed line (without the newline)."""

    def paint(source: dict[str, Any], text: str) -> str:
        level = _get(source, "log", "level")
        rank = LEVEL_RANKS.get(level.lower()) if isinstance(level, str) else None
        code = _COLOURS.get(rank) if rank is not None else None
        return text if code is None else f"{code}{text}{_RESET}"

    def raw(hit: dict[str, Any]) -> str:
        source = hit.get("_source") or {}
        text = line_of(source)
        return paint(source, text) if colour else text

    def wide(hit: dict[str, Any]) -> str:
        source = hit.get("_source") or {}
        level = _get(source, "log", "level")
        columns = [
            str(source.get("@timestamp", "-")),
            str(_get(source, "kubernetes", "pod", "name") or "-"),
            str(_get(source, "kubernetes", "container", "name") or "-"),
            f"{str(level or '-').upper():<7}",
            line_of(source),
        ]
        text = " ".join(columns)
        return paint(source, text) if colour else text

    def json(hit: dict[str, Any]) -> str:
        return orjson.dumps(hit.get("_source") or {}).decode()

    return {"raw": raw, "wide": wide, "json": json}[kind]
