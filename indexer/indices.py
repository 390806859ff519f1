"""Indices on demand: create each index the first time this process writes to it.

Creating explicitly (instead of relying on auto-creation) makes the indexer work on clusters with
`action.auto_create_index: false`; the race with other replicas is harmless because
`resource_already_exists_exception` counts as success.
"""

from __future__ import annotations

import threading
from typing import Protocol

from elasticsearch import ApiError, Elasticsearch

from indexer import metrics


class IndexRejected(Exception):
    """The cluster refused to create an index for a reason retrying will not fix."""

    def __init__(self, index: str, error_type: str, reason: str) -> None:
        super().__init__(f"creating index {index} failed: {error_type}: {reason}")
        self.index = index
        self.error_type = error_type
        self.reason = reason


class IndexEnsurer(Protocol):
    """What the bulk writer needs: a writable index for a name, and a way to forget one."""

    def ensure(self, index: str) -> str:
        """Make sure a writable index exists for `index`; return the name to write to.

        Raises IndexRejected when the cluster refuses for good; transport errors and transient
        ApiErrors propagate (the caller retries)."""
        ...

    def forget(self, index: str) -> None: ...


def is_transient_status(status: int) -> bool:
    return status == 429 or status >= 500


class IndexCreator:
    """Thread-safe; network calls happen only for names not seen before (or forgotten)."""

    def __init__(self, client: Elasticsearch) -> None:
        self._client = client
        self._known: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, index: str) -> str:
        """Make sure `index` exists; return it.

        Raises IndexRejected for a permanent refusal; lets transport errors and transient
        ApiErrors (429, 5xx) propagate for the caller to retry.
        """
        if index in self._known:
            return index
        try:
            self._client.indices.create(index=index)
        except ApiError as exc:
            error_type = _error_type(exc)
            if error_type != "resource_already_exists_exception":
                if is_transient_status(exc.status_code):
                    raise
                raise IndexRejected(index, error_type, _reason(exc)) from exc
        else:
            metrics.INDICES_CREATED.inc()
        with self._lock:
            self._known.add(index)
        return index

    def forget(self, index: str) -> None:
        """Forget an index that turned out to be gone (deleted by lifecycle, say)."""
        with self._lock:
            self._known.discard(index)


def _error_type(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("type", "unknown"))
    return str(exc.error or "unknown")


def _reason(exc: ApiError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("reason", exc.message))
    return str(exc.message)
