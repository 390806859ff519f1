"""What `indexer logs` reads: the target, its index expression, its filters and the order.

Index names are route.py's: `<prefix>-<namespace>_<app>-<yyyy.MM.dd>`, and the namespace's shared
day `<prefix>-<namespace>__shared-<yyyy.MM.dd>` (several apps, each document keeping its
`service.name`; indexer/admin/naming.py). A namespace never contains `_`, so
`<prefix>-<ns>_*` is exactly a namespace's indices. An app's pattern `<prefix>-<ns>_<app>-*` would
also match an app named `<app>-x`; the `_index` filter (a wildcard of fixed length,
`<prefix>-<ns>_<app>-????.??.??`) keeps only the app's own days. Both products accept `term`,
`terms`, `prefix` and `wildcard` queries on `_index` (Elasticsearch's "_index field" reference page;
OpenSearch kept the 7.10 behaviour).

The order is total and uses only fields every document of ours carries (encode.py adds the Kafka
coordinates to each): `@timestamp`, the file's `log.offset` (lines of one pod in the same
millisecond), then `kafka.topic`, `kafka.partition`, `kafka.offset`. Never `_id`: Elasticsearch 8
refuses to sort on it by default (`indices.id_field_data.enabled: false`). A missing value sorts
as a fixed one, so the descending order is exactly the ascending one reversed (`--tail`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The level words structured.py keeps (its `_LEVELS`, plus the spelled-out codes), by severity.
# `--level warn` reads every spelling at that rank or above; tests/unit/test_logs_query.py checks
# that every word the parser keeps has a rank.
LEVEL_RANKS: dict[str, int] = {
    **dict.fromkeys(("trace", "trc", "finest", "finer", "verbose", "vrb"), 0),
    # Apache httpd 2.4's trace1 … trace8 (below debug).
    **dict.fromkeys((f"trace{n}" for n in range(1, 9)), 0),
    **dict.fromkeys(("debug", "dbg", "fine"), 1),
    **dict.fromkeys(("info", "inf", "information"), 2),
    **dict.fromkeys(("notice",), 3),
    **dict.fromkeys(("warn", "warning", "wrn"), 4),
    **dict.fromkeys(("error", "err", "severe"), 5),
    **dict.fromkeys(
        # Ruby's `ANY` is Logger::UNKNOWN, above FATAL ("should always be logged").
        (
            "crit",
            "critical",
            "alert",
            "emerg",
            "emergency",
            "fatal",
            "panic",
            "ftl",
            "assert",
            "any",
        ),
        6,
    ),
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_APP = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
SHARED = "_shared"  # indexer.admin.naming.SHARED_MARKER: `<ns>__shared`


class QueryError(ValueError):
    """A target, time or level the user gave that cannot be read (exit status 2)."""


@dataclass(frozen=True)
class Target:
    """`NAMESPACE[/APP[/POD]]`, as the user wrote it."""

    namespace: str
    app: str | None = None
    pod: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """Raises QueryError for a part that is not a valid Kubernetes name (the indexer never
        writes such an index, and a `*` or `,` must not widen the read)."""
        parts = text.split("/")
        if len(parts) > 3 or not all(parts):
            raise QueryError(f"{text!r}: expected NAMESPACE, NAMESPACE/APP or NAMESPACE/APP/POD")
        namespace, app, pod = (*parts, None, None)[:3]
        if not _DNS_LABEL.match(namespace):  # type: ignore[arg-type]
            raise QueryError(f"{namespace!r} is not a namespace name (a DNS-1123 label)")
        if app is not None and not _APP.match(app):
            raise QueryError(f"{app!r} is not an app name (a label value)")
        if pod is not None and not _DNS_SUBDOMAIN.match(pod):
            raise QueryError(f"{pod!r} is not a pod name (a DNS-1123 subdomain)")
        return cls(namespace, app, pod)  # type: ignore[arg-type]


def parse_duration(text: str) -> float:
    """`10m`, `2h`, `30s`, `1d`, `500ms` → seconds. Raises QueryError."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise QueryError(f"{text!r} is not a duration such as 30s, 10m, 2h or 1d")
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


def parse_time(text: str) -> float:
    """An RFC 3339 time (`2026-12-01T10:00:00Z`, `…+01:00`; a date alone is its midnight UTC)
    → epoch seconds. Raises QueryError."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"{text!r} is not an RFC 3339 time such as 2026-12-01T10:00:00Z") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def levels_at_or_above(level: str) -> list[str]:
    """Every spelling of `level` and of the levels above it. Raises QueryError."""
    rank = LEVEL_RANKS.get(level.lower())
    if rank is None:
        known = ", ".join(sorted({w for w, r in LEVEL_RANKS.items() if w.isalpha()}))
        raise QueryError(f"unknown level {level!r} (one of: {known})")
    return sorted(word for word, r in LEVEL_RANKS.items() if r >= rank)


@dataclass(frozen=True)
class LogQuery:
    """A read: which indices, which documents. Times are epoch seconds; `since` inclusive,
    `until` exclusive."""

    target: Target
    prefix: str = "k8s-logs"
    since: float | None = None
    until: float | None = None
    levels: list[str] | None = None
    grep: str | None = None
    container: str | None = None
    extra: list[dict[str, Any]] = field(default_factory=list)

    @property
    def indices(self) -> str:
        """The index expression: wildcards only, so a day or an app without an index is no error
        (`allow_no_indices`), and a tenant key granted `<prefix>-<ns>_*` may read all of it."""
        base = f"{self.prefix}-{self.target.namespace}_"
        if self.target.app is None:
            return f"{base}*"
        return f"{base}{self.target.app.lower()}-*,{base}{SHARED}-*"

    def filters(self) -> list[dict[str, Any]]:
        """The `bool.filter` clauses (no scoring: every clause is a filter)."""
        clauses: list[dict[str, Any]] = []
        target = self.target
        if target.app is not None:
            base = f"{self.prefix}-{target.namespace}_"
            own = {"wildcard": {"_index": {"value": f"{base}{target.app.lower()}-????.??.??"}}}
            shared = {
                "bool": {
                    "filter": [
                        {"wildcard": {"_index": {"value": f"{base}{SHARED}-????.??.??"}}},
                        {"term": {"service.name": {"value": target.app, "case_insensitive": True}}},
                    ]
                }
            }
            clauses.append({"bool": {"should": [own, shared], "minimum_should_match": 1}})
        if target.pod is not None:
            clauses.append({"term": {"kubernetes.pod.name": target.pod}})
        if self.container is not None:
            clauses.append({"term": {"kubernetes.container.name": self.container}})
        if self.since is not None or self.until is not None:
            bounds: dict[str, Any] = {"format": "epoch_millis"}
            if self.since is not None:
                bounds["gte"] = int(self.since * 1000)
            if self.until is not None:
                bounds["lt"] = int(self.until * 1000)
            clauses.append({"range": {"@timestamp": bounds}})
        if self.levels is not None:
            clauses.append({"terms": {"log.level": self.levels}})
        if self.grep is not None:
            # A phrase: the words in this order, as `grep` finds a fixed string (`message` is
            # `match_only_text`, which answers phrase queries from the source).
            clauses.append({"match_phrase": {"message": self.grep}})
        clauses.extend(self.extra)
        return clauses

    def body(self) -> dict[str, Any]:
        return {"bool": {"filter": self.filters()}}


def sort(descending: bool = False, first: str = "@timestamp") -> list[dict[str, Any]]:
    """The total order (module docstring); `first` is `event.ingested` when following."""
    order = "desc" if descending else "asc"
    keys: list[tuple[str, Any, str]] = [
        (first, 0, "date"),
        ("log.offset", -1, "long"),
        ("kafka.topic", "", "keyword"),
        ("kafka.partition", -1, "long"),
        ("kafka.offset", -1, "long"),
    ]
    if first != "@timestamp":
        keys.insert(1, ("@timestamp", 0, "date"))
    return [
        {name: {"order": order, "missing": missing, "unmapped_type": kind}}
        for name, missing, kind in keys
    ]
