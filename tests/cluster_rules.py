"""Fault rules for `CompatProxy` that make the real server behave like an Elasticsearch setting
osmem ignores. Everything is still stored by the real server; a rule only withholds it."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from indexer.embedded import Reply


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
            status, data = self._upstream(method, path, body or None)
            if status == 200:
                with self._lock:
                    self.created.add(name)
            return Reply(status, data)
        if "_bulk" in path:
            return self._bulk(body)
        return None

    def _bulk(self, body: bytes) -> Reply:
        lines = body.splitlines()
        pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
        targets = [json.loads(action)["create"]["_index"] for action, _ in pairs]
        with self._lock:
            known = [index in self.created for index in targets]
            self.refused.extend(t for t, k in zip(targets, known, strict=True) if not k)
        sent = b"".join(b"\n".join(p) + b"\n" for p, k in zip(pairs, known, strict=True) if k)
        answer: list[dict[str, dict[str, Any]]] = (
            json.loads(self._upstream("POST", "/_bulk", sent)[1])["items"] if sent else []
        )
        forwarded = iter(answer)
        items: list[dict[str, dict[str, Any]]] = [
            next(forwarded) if k else _index_not_found(t)
            for t, k in zip(targets, known, strict=True)
        ]
        errors = any("error" in next(iter(item.values())) for item in items)
        return Reply(200, json.dumps({"errors": errors, "items": items}).encode())

    def _upstream(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            # A create-index request carries the index's own mappings (index_body.py).
            kind = "application/x-ndjson" if method == "POST" else "application/json"
            headers = {"Content-Type": kind} if body else {}
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


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
        lines = body.splitlines()
        pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
        targets = [json.loads(action)["create"]["_index"] for action, _ in pairs]
        held = [t.startswith(self.prefix) for t in targets]
        self.refused += sum(held)
        sent = b"".join(b"\n".join(p) + b"\n" for p, h in zip(pairs, held, strict=True) if not h)
        upstream = AutoCreateOff(self.upstream_port)
        answer: list[dict[str, dict[str, Any]]] = (
            json.loads(upstream._upstream("POST", "/_bulk", sent)[1])["items"] if sent else []
        )
        forwarded = iter(answer)
        items = [
            {"create": {"_index": t, "status": self.status, "error": self.error}}
            if h
            else next(forwarded)
            for t, h in zip(targets, held, strict=True)
        ]
        return Reply(
            200, json.dumps({"errors": any(held) or _any_error(items), "items": items}).encode()
        )


def _any_error(items: list[dict[str, dict[str, Any]]]) -> bool:
    return any("error" in next(iter(item.values())) for item in items)
