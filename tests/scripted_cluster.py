"""A scripted search client for the unit lane: answers `_bulk` with the literal bodies the real
products send, so the bulk writer's every branch runs in milliseconds, without a server.

What it scripts, and where each literal comes from (../shared/REAL-CLUSTERS.md cites them; the
facts relied on are copied here with their upstream sources):

- `filter_path` applies to the items of a 200 bulk answer and not to whole-request errors
  (ES `server/src/main/java/org/elasticsearch/rest/AbstractRestChannel.java`: "Disable
  filtering when building error responses"): an item is `{"create": {"status": N, "error":
  {"type": …, "reason": …}}}` and nothing else. A bulk without errors reads
  `{"errors":false,"items":[{"create":{"status":201}},…]}`.
- `create` of an existing `_id`: 409 `version_conflict_engine_exception`, `[<id>]: version
  conflict, document already exists (current version [<n>])` (Elasticsearch bulk API samples).
- A field's value its mapping cannot take: 400, `document_parsing_exception` on Elasticsearch
  since 8.8 (elastic/elasticsearch#92646), whose reason starts `[<line>:<col>] `;
  `mapper_parsing_exception` on OpenSearch: `failed to parse field [<f>] of type [<t>] in
  document with id '<id>'. Preview of field's value: '<v>'` (elastic/kibana#154411).
- Write pressure: 429, `es_rejected_execution_exception` on Elasticsearch,
  `rejected_execution_exception` on OpenSearch (`ElasticsearchException.getExceptionName` and
  `OpenSearchException.getExceptionName` strip only the product prefix;
  `OpenSearchRejectedExecutionException`), `rejected execution of coordinating operation [...]`.
- `action.auto_create_index: false`: 404 `index_not_found_exception`, `no such index [<idx>] and
  [action.auto_create_index] is [false]` (ES `AutoCreateIndexTests.java`).
- A request over `http.max_content_length`: 413 with `Content-Length: 0` and an empty body (ES
  `modules/transport-netty4/…/Netty4HttpContentSizeHandler.java`).

It parses its answers the way the indexer's real clients do (`indexer.cluster`): a non-2xx is a
`ClusterError` with the parsed body (or the text, or nothing), a 2xx that is not JSON is
`ClusterUnavailable` (`not_json`), a bulk without errors is read by `no_errors` alone.
`tests/test_bulk_writer_osmem.py` runs the same writer suite against the real server behind the
proxy, with the same rules: that is what shows this script faithful.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from indexer.cluster import ClusterError, ClusterUnavailable, SearchClient, no_errors, not_json
from indexer.embedded import Product

Item = dict[str, dict[str, Any]]
"""One bulk answer item, `{action: {"status": ..., "error": {...}}}`."""


@dataclass(frozen=True)
class Whole:
    """A whole-request answer, as it arrives on the wire."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"


TOO_LARGE = Whole(413)  # Elasticsearch: Content-Length 0, no body
HTML_PAGE = Whole(200, b"<html><body>Maintenance</body></html>", "text/html")


def created() -> Item:
    return {"create": {"status": 201}}


def duplicate(doc_id: str) -> Item:
    reason = f"[{doc_id}]: version conflict, document already exists (current version [1])"
    return {"create": {"status": 409, "error": _error("version_conflict_engine_exception", reason)}}


def rejected_execution(product: Product) -> Item:
    kind = {
        "elasticsearch": "es_rejected_execution_exception",
        "opensearch": "rejected_execution_exception",
    }[product]
    return {
        "create": {
            "status": 429,
            "error": _error(kind, "rejected execution of coordinating operation [...]"),
        }
    }


def parsing_error(product: Product, field: str, kind: str, doc_id: str, value: object) -> Item:
    reason = (
        f"failed to parse field [{field}] of type [{kind}] in document with id '{doc_id}'. "
        f"Preview of field's value: '{value}'"
    )
    if product == "elasticsearch":
        return {
            "create": {
                "status": 400,
                "error": _error("document_parsing_exception", "[1:42] " + reason),
            }
        }
    return {"create": {"status": 400, "error": _error("mapper_parsing_exception", reason)}}


def index_not_found(index: str) -> Item:
    reason = f"no such index [{index}] and [action.auto_create_index] is [false]"
    return {"create": {"status": 404, "error": _error("index_not_found_exception", reason)}}


def bulk_answer(items: list[Item]) -> bytes:
    errors = any("error" in next(iter(item.values())) for item in items)
    return orjson.dumps({"errors": errors, "items": items})


def _error(kind: str, reason: str) -> dict[str, str]:
    return {"type": kind, "reason": reason}


ItemRule = Callable[[int, bytes, bytes], Item | None]
"""Decides one item of a bulk: (position in the request, action line, source line) → a literal
answer, or None for what the server itself answers."""


class ScriptedCluster(SearchClient):
    """Answers each bulk, in order: the next scripted whole answer (`then`), or a request
    over `limit` bytes with `TOO_LARGE`, or item by item: `rule`'s literal answer, else what a
    cluster answers (created; a duplicate for an `_id` its index holds; a parsing error for a
    value its index maps as a number, `maps`). Thread-safe."""

    def __init__(self, product: Product) -> None:
        self.distribution = product
        self.version = "8.19.0" if product == "elasticsearch" else "3.8.0"
        self.product: Product = product
        self.bulks: list[bytes] = []
        self.stored: dict[str, dict[str, dict[str, Any]]] = {}
        self.numbers: dict[str, set[str]] = {}
        self.rule: ItemRule | None = None
        self.limit: int | None = None
        self._then: list[Whole] = []
        self._lock = threading.Lock()

    def then(self, *answers: Whole) -> None:
        """Answer the next bulks with `answers`, one each."""
        self._then.extend(answers)

    def maps(self, index: str, field: str) -> None:
        """`index` maps `field` (a top-level name) as `long`."""
        self.numbers.setdefault(index, set()).add(field)

    def bulk(self, body: bytes, filter_path: str) -> Any:
        with self._lock:
            self.bulks.append(body)
            answer = self._answer(body)
        if not 200 <= answer.status < 300:
            raise ClusterError(answer.status, _parsed(answer.body))
        if answer.content_type != "application/json":
            raise not_json("", "", answer.body.decode())
        quick = no_errors(answer.body)
        return quick if quick is not None else orjson.loads(answer.body)

    def _answer(self, body: bytes) -> Whole:
        if self._then:
            return self._then.pop(0)
        if self.limit is not None and len(body) > self.limit:
            return TOO_LARGE
        lines = body.splitlines()
        items = [self._item(i // 2, lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
        return Whole(200, bulk_answer(items))

    def _item(self, position: int, action: bytes, source: bytes) -> Item:
        decided = self.rule(position, action, source) if self.rule else None
        if decided is not None:
            return decided
        meta = orjson.loads(action)["create"]
        index, doc_id = meta["_index"], meta["_id"]
        held = self.stored.setdefault(index, {})
        if doc_id in held:
            return duplicate(doc_id)
        document = orjson.loads(source)
        for field in self.numbers.get(index, ()):
            value = document.get(field)
            if value is not None and not isinstance(value, int):
                return parsing_error(self.product, field, "long", doc_id, value)
        held[doc_id] = document
        return created()

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        raise ClusterUnavailable(f"the scripted cluster answers _bulk only, not {method} {path}")

    def close(self) -> None:
        pass


def _parsed(body: bytes) -> Any:
    if not body:
        return ""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode(errors="replace")
