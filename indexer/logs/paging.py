"""Cursor paging: every hit of a read, in the total order of query.py, one page in memory at a
time, never `from`/`size` past the first page (the search window, `index.max_result_window`,
is 10,000 hits).

A one-shot read opens a point in time on the index expression and pages through it with
`search_after` (Elasticsearch `_pit`, OpenSearch 2.4+ `_search/point_in_time`: cluster.py has
the routes): every page sees the indices as they were when the read began, so a read of any
length is consistent and costs one page of memory. A point in time that expired while the
caller was slow to take the next page (a paused pipe) is opened again and the read goes on after
the last hit: the order is total, so nothing is skipped or repeated.

A cluster without point in time (OpenSearch before 2.4 answers its route with 400 "no handler
found") is read the same way without one: the order is total, so paging with `search_after`
alone still skips and repeats nothing, but a document indexed during the read may appear in it
(or not) depending on where it sorts.

`scan` pages the same way without a point in time. `follow` uses it: each poll reads a short
window again anyway, so a document that appears behind the cursor mid-poll is found by the next.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from indexer.cluster import ClusterError, SearchClient
from indexer.logs.query import LogQuery, sort

PAGE_SIZE = 1000
KEEP_ALIVE = "2m"
_LENIENT = {"allow_no_indices": "true", "ignore_unavailable": "true"}
Hit = dict[str, Any]


def has_indices(client: SearchClient, indices: str) -> bool:
    """Whether the expression names any index at all (a point in time on nothing is refused
    by some servers, and there is nothing to read)."""
    answer = client.request(
        "POST", f"/{indices}/_search", {"size": 0, "track_total_hits": False}, _LENIENT
    )
    return int(answer.get("_shards", {}).get("total", 0)) > 0


@contextlib.contextmanager
def point_in_time(client: SearchClient, indices: str) -> Iterator[list[str] | None]:
    """A point in time on `indices`, as a one-element list whose id each page may replace
    (both products may answer a page with a new id: use the latest); `[""]` when the cluster
    has none (module docstring); None when no index matches. Closed on exit."""
    if not has_indices(client, indices):
        yield None
        return
    try:
        holder = [client.open_point_in_time(indices, KEEP_ALIVE)]
    except ClusterError as exc:
        if exc.status not in (400, 404, 405) or "no handler" not in exc.reason:
            raise
        yield [""]
        return
    try:
        yield holder
    finally:
        with contextlib.suppress(Exception):  # it expires by itself; a read must not fail here
            client.close_point_in_time(holder[0])


def read(
    client: SearchClient,
    query: LogQuery,
    source: list[str] | bool = True,
    *,
    descending: bool = False,
    after: list[Any] | None = None,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
) -> Iterator[Hit]:
    """Every hit of `query` in the total order (or its reverse), after `after` (sort values of
    a hit), at most `limit`, one page held at a time. Raises ClusterError/ClusterUnavailable."""
    with point_in_time(client, query.indices) as pit:
        if pit is None:
            return
        yield from _pages(client, query, source, descending, after, limit, page_size, pit)


def _pages(
    client: SearchClient,
    query: LogQuery,
    source: list[str] | bool,
    descending: bool,
    after: list[Any] | None,
    limit: int | None,
    page_size: int,
    pit: list[str],
) -> Iterator[Hit]:
    left = limit
    reopened = False
    while left is None or left > 0:
        size = page_size if left is None else min(page_size, left)
        body: dict[str, Any] = {
            "size": size,
            "query": query.body(),
            "sort": sort(descending),
            "_source": source,
            "track_total_hits": False,
        }
        path, params = f"/{query.indices}/_search", dict(_LENIENT)
        if pit[0]:
            body["pit"] = {"id": pit[0], "keep_alive": KEEP_ALIVE}
            path, params = "/_search", {}
        if after is not None:
            body["search_after"] = after
        try:
            answer = client.request("POST", path, body, params)
        except ClusterError as exc:
            if not pit[0] or exc.status != 404 or reopened:
                raise
            if "search_context_missing" not in str(exc.body):
                raise
            reopened = True  # expired while the caller held a page: open one again, go on
            pit[0] = client.open_point_in_time(query.indices, KEEP_ALIVE)
            continue
        reopened = False
        pit[0] = str(answer.get("pit_id", pit[0]))
        hits = answer["hits"]["hits"]
        yield from hits
        if left is not None:
            left -= len(hits)
        if len(hits) < size:
            return
        after = hits[-1]["sort"]


def tail(
    client: SearchClient,
    query: LogQuery,
    count: int,
    source: list[str] | bool = True,
    page_size: int = PAGE_SIZE,
) -> Iterator[Hit]:
    """The last `count` hits, oldest first, in bounded memory for any `count`: a first pass
    walks back over `count` hits without their sources to find where they begin, a second
    reads forward from there, both in the same point in time."""
    with point_in_time(client, query.indices) as pit:
        if pit is None:
            return
        start: list[Any] | None = None
        seen = 0
        for hit in _pages(client, query, False, True, None, count + 1, page_size, pit):
            seen += 1
            start = hit["sort"]  # at the end: the (count+1)-th newest, just before the tail
        after = start if seen > count else None
        yield from _pages(client, query, source, False, after, count, page_size, pit)


def scan(
    client: SearchClient,
    query: LogQuery,
    order: list[dict[str, Any]],
    source: list[str] | bool = True,
    page_size: int = PAGE_SIZE,
) -> Iterator[Hit]:
    """Every hit of `query` in `order` (a total order), paged with `search_after` without a
    point in time; no index is no hit."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": page_size,
            "query": query.body(),
            "sort": order,
            "_source": source,
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        answer = client.request("POST", f"/{query.indices}/_search", body, _LENIENT)
        hits = answer["hits"]["hits"]
        yield from hits
        if len(hits) < page_size:
            return
        after = hits[-1]["sort"]
