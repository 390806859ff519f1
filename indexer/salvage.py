"""Salvage: a second chance for a document Elasticsearch refused because of its mapping.

The fields the error names (or, when it names none, every field beyond the ones our templates
map) are moved into `indexer_salvage.fields`, one JSON string, and `indexer_salvage.reason` says
why. The line stays searchable in Kibana by its message, time and Kubernetes fields; only the
moved values lose their structure. A salvaged document that is refused again is dead-lettered.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

SALVAGEABLE = frozenset(
    {
        "mapper_parsing_exception",
        "document_parsing_exception",
        "illegal_argument_exception",
        "strict_dynamic_mapping_exception",
    }
)

# Fields our templates map and routing writes; kept in place unless an error names them.
CORE_FIELDS = frozenset(
    {
        "@timestamp",
        "@metadata",
        "message",
        "log",
        "kubernetes",
        "service",
        "host",
        "agent",
        "input",
        "ecs",
        "tags",
        "fields",
        "event",
        "container",
        "cloud",
        "data_stream",
    }
)
SALVAGE_FIELD = "indexer_salvage"

_FIELD_PATTERNS = (
    re.compile(r"failed to parse field \[([^\]]+)\]"),
    re.compile(r"object mapping for \[([^\]]+)\] tried to parse field"),
    re.compile(r"[Ee]xisting mapping for \[([^\]]+)\] must be of type object"),
    re.compile(r"[Cc]an't merge a non object mapping \[([^\]]+)\]"),  # ES 8/9: lower case
    re.compile(r"dynamic introduction of \[([^\]]+)\] within \[([^\]]+)\]"),
    re.compile(r"Could not dynamically add mapping for field \[([^\]]+)\]"),
)


def offending_fields(reason: str) -> list[str]:
    """Dotted field paths an Elasticsearch mapping error names, most specific first."""
    fields: list[str] = []
    for pattern in _FIELD_PATTERNS:
        for found in pattern.finditer(reason):
            groups = [g for g in found.groups() if g]
            if len(groups) == 2:  # dynamic introduction of [child] within [parent]
                child, parent = groups
                groups = [child if parent in ("_doc", "") else f"{parent}.{child}"]
            fields.extend(g for g in groups if g not in fields)
    return fields


def salvage(
    document: dict[str, Any], error_type: str, reason: str, fallback_timestamp: str
) -> dict[str, Any] | None:
    """The document with the offending fields moved aside, or None when nothing can be moved.

    An `@timestamp` the cluster could not parse is moved too, and replaced by
    `fallback_timestamp` (the Kafka time), so the line still shows up in time-bound searches.
    """
    if error_type not in SALVAGEABLE or SALVAGE_FIELD in document:
        return None
    try:
        return _moved_aside(document, error_type, reason, fallback_timestamp)
    except (TypeError, ValueError, RecursionError):
        # A second chance, never a new way to fail: the dead letter stands.
        return None


def _moved_aside(
    document: dict[str, Any], error_type: str, reason: str, fallback_timestamp: str
) -> dict[str, Any] | None:
    moved: dict[str, Any] = {}
    for path in offending_fields(reason):
        found, value = _pop_path(document, path)
        if found:
            moved[path] = value
    if not moved:
        for key in [k for k in document if k not in CORE_FIELDS]:
            moved[key] = document.pop(key)
    if not moved:
        return None
    if "@timestamp" in moved:
        document["@timestamp"] = fallback_timestamp
    document[SALVAGE_FIELD] = {
        "fields": orjson.dumps(moved, option=orjson.OPT_NON_STR_KEYS).decode(),
        "reason": f"{error_type}: {reason}"[:2000],
    }
    return document


def _pop_path(document: dict[str, Any], path: str) -> tuple[bool, Any]:
    if path in document:  # a literal dotted key, or a top-level field
        return True, document.pop(path)
    head, _, rest = path.partition(".")
    child = document.get(head)
    if rest and isinstance(child, dict):
        return _pop_path(child, rest)
    if rest and head in document:
        # The parent exists but is not an object: it is the conflict.
        return True, document.pop(head)
    return False, None
