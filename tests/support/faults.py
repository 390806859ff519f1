"""Fault rules for `CompatProxy` that make the real server behave like an Elasticsearch setting
osmem ignores, or like a cluster in trouble. Everything is still stored by the real server; a
rule only withholds it.

Every per-item rule is one shape, written once (`answer_per_item`): split the bulk into its
items, decide each (a literal item answer, or None to forward it), forward the rest to the real
server in one request, and splice its answers back in the request's order."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from indexer.embedded import Reply

Item = dict[str, dict[str, Any]]
"""One bulk answer item, `{action: {"status": ..., "error": {...}}}`."""


def bulk_items(body: bytes) -> list[tuple[bytes, bytes]]:
    """The (action line, source line) of every item of a bulk body, in order."""
    lines = body.splitlines()
    return [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]


def item_target(action: bytes) -> tuple[str, str]:
    """(`_index`, `_id`) named by an action line (`_id` empty when it names none)."""
    meta = next(iter(json.loads(action).values()))
    return str(meta["_index"]), str(meta.get("_id", ""))


def answer_per_item(
    upstream_port: int,
    body: bytes,
    decide: Callable[[int, bytes], Item | None] | Sequence[Item | None],
) -> Reply:
    """The bulk `body` answered item by item: `decide(position, action line)` (or the list of
    those decisions) gives an item's literal answer, or None to forward it. The forwarded items
    go to the real server in one bulk; its answers are spliced back in order, and `errors` is
    true when any item carries an error."""
    items = bulk_items(body)
    decided = (
        [decide(i, action) for i, (action, _) in enumerate(items)]
        if callable(decide)
        else list(decide)
    )
    sent = b"".join(
        a + b"\n" + s + b"\n" for (a, s), d in zip(items, decided, strict=True) if d is None
    )
    forwarded: list[Item] = (
        json.loads(upstream(upstream_port, "POST", "/_bulk", sent)[1])["items"] if sent else []
    )
    answers = iter(forwarded)
    spliced = [next(answers) if d is None else d for d in decided]
    errors = any("error" in next(iter(item.values())) for item in spliced)
    return Reply(200, json.dumps({"errors": errors, "items": spliced}).encode())


def upstream(port: int, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
    """One request straight to the real server behind the proxy: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        # A create-index request carries the index's own mappings (index_body.py).
        kind = "application/x-ndjson" if method == "POST" else "application/json"
        headers = {"Content-Type": kind} if body else {}
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _index_not_found(index: str) -> dict[str, dict[str, Any]]:
    """A bulk item as Elasticsearch answers it with `action.auto_create_index: false` (REAL-
    CLUSTERS.md, error table: AutoCreateIndexTests)."""
    return {
        "create": {
            "_index": index,
            "status": 404,
            "error": {
                "type": "index_not_found_exception",
                "reason": f"no such index [{index}] and [action.auto_create_index] is [false]",
                "index_uuid": "_na_",
                "index": index,
            },
        }
    }


@dataclass
class AutoCreateOff:
    """`action.auto_create_index: false`: a bulk item into an index that no successful
    `PUT /<index>` made since it was last deleted is answered 404 `index_not_found_exception`;
    the other items are forwarded to the real server. `deleted` forgets indices deleted behind
    the indexer's back (by lifecycle, say)."""

    upstream_port: int
    created: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deleted(self, *indices: str) -> None:
        with self._lock:
            self.created.difference_update(indices)

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        name = path.split("?", 1)[0].strip("/")
        if method == "PUT" and name and not name.startswith("_") and "/" not in name:
            status, data = upstream(self.upstream_port, method, path, body or None)
            if status == 200:
                with self._lock:
                    self.created.add(name)
            return Reply(status, data)
        if "_bulk" in path:
            return self._bulk(body)
        return None

    def _bulk(self, body: bytes) -> Reply:
        targets = [item_target(action)[0] for action, _ in bulk_items(body)]
        with self._lock:
            known = [index in self.created for index in targets]
            self.refused.extend(t for t, k in zip(targets, known, strict=True) if not k)
        decided = [None if k else _index_not_found(t) for t, k in zip(targets, known, strict=True)]
        return answer_per_item(self.upstream_port, body, decided)


@dataclass
class RefuseItemsInto:
    """Answers every bulk item into an index starting with `prefix` with `status` and `error`
    (as the real cluster words it) and forwards the others to the real server."""

    upstream_port: int
    prefix: str
    status: int
    error: dict[str, str]
    refused: int = 0

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" not in path or not body.startswith(b'{"create"'):
            return None  # the dead-letter replay's deletes, say: not what this rule refuses
        targets = [item_target(action)[0] for action, _ in bulk_items(body)]
        held = [t.startswith(self.prefix) for t in targets]
        self.refused += sum(held)
        refusal = {"status": self.status, "error": self.error}
        decided = [
            {"create": {"_index": t, **refusal}} if h else None
            for t, h in zip(targets, held, strict=True)
        ]
        return answer_per_item(self.upstream_port, body, decided)
