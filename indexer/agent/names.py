"""Which directory names become inputs: valid Kubernetes names only, never `${`.

The patterns are the indexer's own (`indexer.identity`), so an input is rendered exactly for the
paths the indexer can route. They are matched in full: `$` alone would let a name ending in a
newline through.
"""

from __future__ import annotations

from indexer.identity import APP_NAME, DNS_LABEL, POD_NAME


def _ok(pattern_match: object, name: str) -> bool:
    return bool(pattern_match) and "${" not in name


def valid_namespace(name: str) -> bool:
    """A DNS-1123 label."""
    return _ok(DNS_LABEL.fullmatch(name), name)


def valid_app(name: str) -> bool:
    """A Kubernetes label value (`Cart-API`, `ledger_v2`, `web.v2`), not empty."""
    return _ok(APP_NAME.fullmatch(name), name)


def valid_pod(name: str) -> bool:
    """A DNS-1123 subdomain."""
    return _ok(POD_NAME.fullmatch(name), name)
