"""What a replay selects: a time window, namespaces, apps and (for dead letters) error types.

Times are Unix seconds. The window is half-open: `since <= t < until`. Namespaces and apps are
read back from index names (`<prefix>-<namespace>_<app>-<yyyy.MM.dd>`, by
`indexer.admin.naming`), which routing makes unambiguous because namespaces never contain `_`.
Apps are compared as index names spell them, in lower case: `--app Cart-API` selects the index
it shares with `cart-api`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from indexer.admin.naming import parse_index


class ScopeError(ValueError):
    """A flag value that cannot be used (unparsable time, empty window)."""


def parse_instant(text: str) -> float:
    """ISO 8601 (`2026-11-25`, `2026-11-25T10:00:00Z`, `...+01:00`) → Unix seconds.

    A time without an offset is taken as UTC, like the index days are.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScopeError(f"{text!r} is not an ISO 8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def format_instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def identity_of_index(prefix: str, index: str) -> tuple[str, str] | None:
    """(namespace, app) of a routed index name, or None for unmatched, dead-letter and foreign
    names."""
    owned = parse_index(prefix, index)
    if owned is None or owned.namespace is None or owned.app is None:
        return None
    return owned.namespace, owned.app


@dataclass(frozen=True)
class Scope:
    """Which messages (or dead letters) a replay takes. Empty selections select everything."""

    since: float | None = None
    until: float | None = None
    namespaces: frozenset[str] = frozenset()
    apps: frozenset[str] = frozenset()
    """Kept in lower case, as index names spell apps."""
    error_types: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "apps", frozenset(app.lower() for app in self.apps))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ScopeError("--since must be earlier than --until")

    @property
    def by_identity(self) -> bool:
        """True when namespaces or apps narrow the selection."""
        return bool(self.namespaces or self.apps)

    def in_window(self, seconds: float) -> bool:
        return (self.since is None or seconds >= self.since) and (
            self.until is None or seconds < self.until
        )

    def selects_error(self, error_type: str) -> bool:
        return not self.error_types or error_type in self.error_types

    def names_error(self, error_type: str) -> bool:
        """True only when `--error-type` asked for this type explicitly."""
        return error_type in self.error_types

    def selects_identity(self, identity: tuple[str, str] | None) -> bool:
        """Namespace and app filters; a message of no (namespace, app) passes only when there
        are none."""
        if not self.by_identity:
            return True
        if identity is None:
            return False
        namespace, app = identity
        return (not self.namespaces or namespace in self.namespaces) and (
            not self.apps or app in self.apps
        )
