"""The bulk service: one HTTP call to `_bulk`, and what its answer may be trusted for.

`BulkService.request` blocks for one request (the client's timeout bounds it) and retries nothing
itself. It raises ClusterError or ClusterUnavailable as the client does; no answer, or a
401/403/5xx, first tells `on_reachability(False)` (such a cluster cannot be written); a
successful request tells it True. It raises `ItemsToRetry` for an answer that is no JSON object or
whose `items` do not match the request one for one, since nothing in it can be trusted item by
item. A caller may assume that the items it returns are one `{action: {"status": int, ...}}` per
document, in the request's order.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from indexer import metrics
from indexer.cluster import ClusterError, ClusterUnavailable, SearchClient
from indexer.retry import RetryableCondition

# Only what the outcome table reads: Elasticsearch leaves the rest of each item out of the answer.
FILTER_PATH = "errors,items.*.status,items.*.error.type,items.*.error.reason"
UNREACHABLE_STATUSES = frozenset({401, 403}) | frozenset(range(500, 600))


class ItemsToRetry(RetryableCondition):
    """Some items answered 429/5xx; the attempt is repeated for those alone."""


class BulkService:
    """Sends one bulk body; safe to call from several threads at once."""

    def __init__(
        self, client: SearchClient, on_reachability: Callable[[bool], None] = lambda ok: None
    ) -> None:
        self._client = client
        self._on_reachability = on_reachability

    def request(self, body: bytes, documents: int) -> list[dict[str, Any]] | None:
        """One bulk HTTP call. Returns the items, or None when Elasticsearch reported no errors."""
        started = time.perf_counter()
        try:
            response = self._client.bulk(body, FILTER_PATH)
        except (ClusterError, ClusterUnavailable) as exc:
            metrics.BULK_REQUESTS.labels("error").inc()
            if not isinstance(exc, ClusterError) or exc.status in UNREACHABLE_STATUSES:
                # A cluster that refuses our credentials cannot be written either: not ready.
                self._on_reachability(False)
            raise
        finally:
            metrics.BULK_DURATION.observe(time.perf_counter() - started)
        metrics.BULK_DOCS.observe(documents)
        metrics.BULK_LAST_SUCCESS.set(time.time())
        self._on_reachability(True)
        if not isinstance(response, dict):
            raise ItemsToRetry(f"malformed bulk response: {type(response).__name__}")
        if not response.get("errors"):
            metrics.BULK_REQUESTS.labels("ok").inc()
            return None
        metrics.BULK_REQUESTS.labels("partial").inc()
        items = response.get("items")
        if not _well_formed(items, documents):
            # Nothing in it can be trusted item by item: the whole request is sent again.
            count = len(items) if isinstance(items, list) else "no"
            raise ItemsToRetry(f"malformed bulk response: {count} items for {documents} documents")
        return items


def status_and_error(item: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """The status and error (if any) of one well-formed response item."""
    body = next(iter(item.values()))
    return int(body.get("status", 0)), body.get("error")


def _well_formed(items: object, documents: int) -> bool:
    """Whether a bulk response's `items` has one `{action: {"status": int, ...}}` per document."""
    if not isinstance(items, list) or len(items) != documents:
        return False
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            return False
        body = next(iter(item.values()))
        if not isinstance(body, dict) or not isinstance(body.get("status"), int):
            return False
    return True
