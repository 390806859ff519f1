"""The names of the indices the indexer owns, and what can be read back from them.

    <prefix>-<namespace>_<app>-YYYY.MM.DD     one app's day
    <prefix>-<namespace>__shared-YYYY.MM.DD   the namespace's shared day (shard budget fallback)
    <prefix>-deadletter-YYYY.MM.DD
    <prefix>-unmatched-YYYY.MM.DD

Namespaces never contain `_` (nor does the prefix), so the namespace is everything before the
first `_`, also now that apps may contain `_`: an app is a label value written in lower case
(`indexer.identity.index_app`), `[a-z0-9]([-a-z0-9_.]*[a-z0-9])?`. It never starts with `_`, so
the double underscore of the shared index can never be produced by a real app. Apps that differ
only in case (`Cart-API`, `cart-api`) are one index, so `app` here is that lower-case form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

SHARED_MARKER = "_shared"
SPECIAL_KINDS = ("deadletter", "unmatched")

_DAY = r"(?P<day>\d{4}\.\d{2}\.\d{2})"


@dataclass(frozen=True)
class OwnedIndex:
    """An index name the indexer writes, taken apart."""

    name: str
    day: date
    namespace: str | None  # None for the dead-letter and unmatched indices
    app: str | None  # None for shared, dead-letter and unmatched indices
    kind: str  # "app", "shared", "deadletter" or "unmatched"


def shared_index(prefix: str, namespace: str, day: str) -> str:
    """The namespace's shared daily index for `day` (`YYYY.MM.DD`)."""
    return f"{prefix}-{namespace}_{SHARED_MARKER}-{day}"


def namespace_pattern(prefix: str, namespace_glob: str) -> str:
    """The index pattern of every daily index of the namespaces `namespace_glob` matches."""
    return f"{prefix}-{namespace_glob}_*"


def parse_index(prefix: str, name: str) -> OwnedIndex | None:
    """Take an owned index name apart; None for any name the indexer does not write."""
    pattern = _patterns(prefix)
    match = pattern.fullmatch(name)
    if match is None:
        return None
    try:
        day = date(*(int(part) for part in match["day"].split(".")))
    except ValueError:
        return None
    special = match["special"]
    if special is not None:
        return OwnedIndex(name, day, None, None, special)
    app = match["app"]
    if app == SHARED_MARKER:
        return OwnedIndex(name, day, match["ns"], None, "shared")
    return OwnedIndex(name, day, match["ns"], app, "app")


_CACHE: dict[str, re.Pattern[str]] = {}


def _patterns(prefix: str) -> re.Pattern[str]:
    compiled = _CACHE.get(prefix)
    if compiled is None:
        label = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
        app = r"[a-z0-9](?:[-a-z0-9_.]{0,251}[a-z0-9])?"
        compiled = _CACHE[prefix] = re.compile(
            rf"^{re.escape(prefix)}-(?:(?P<special>{'|'.join(SPECIAL_KINDS)})"
            rf"|(?P<ns>{label})_(?P<app>{app}|{SHARED_MARKER}))-{_DAY}$"
        )
    return compiled
