"""Helpers for the admin tests: settings pointing at a test server, a client, a fake cluster."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from indexer.embedded import CompatProxy, Reply
from indexer.settings import Settings


def make_settings(url: str, **lifecycle: Any) -> Settings:
    return Settings(elasticsearch={"hosts": [url]}, lifecycle={"mode": "sweeper", **lifecycle})


@pytest.fixture
def client(es_url: str) -> Iterator[Elasticsearch]:
    es = Elasticsearch(es_url, request_timeout=10)
    yield es
    es.close()


ES_ROOT = {
    "name": "es-1",
    "cluster_name": "prod",
    "version": {"number": "8.15.0", "build_flavor": "default"},
    "tagline": "You Know, for Search",
}
OS_ROOT = {
    "name": "os-1",
    "cluster_name": "prod",
    "version": {"distribution": "opensearch", "number": "2.17.0"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}


def fake_cluster(root: dict[str, Any]) -> Callable[[str, str, bytes], Reply]:
    """A fault rule that answers everything itself, like an empty cluster with ILM or ISM."""

    canned = {
        "/": json.dumps(root).encode(),
        "/_ilm/status": b'{"operation_mode": "RUNNING"}',
        "/_plugins/_ism/policies": b'{"policies": []}',
        "/_cluster/settings": b'{"defaults": {"cluster.max_shards_per_node": "1000"}}',
        "/_cluster/health": b'{"number_of_data_nodes": 3, "active_shards": 10}',
    }
    missing = b'{"error": {"type": "resource_not_found_exception"}, "status": 404}'

    def answer(method: str, path: str, body: bytes) -> Reply:
        if method == "GET" and path.split("?", maxsplit=1)[0] in canned:
            return Reply(200, canned[path.split("?", maxsplit=1)[0]])
        if method in ("GET", "HEAD"):
            return Reply(404, missing if method == "GET" else b"")  # HEAD answers carry no body
        return Reply(200, b'{"acknowledged": true}')

    return answer


def sent(proxy: CompatProxy, method: str | None = None) -> list[tuple[str, str, Any]]:
    """The recorded requests as (method, path, parsed body)."""
    return [
        (r.method, r.path, json.loads(r.body) if r.body else None)
        for r in proxy.requests
        if method is None or r.method == method
    ]


@pytest.fixture(autouse=True)
def fresh_loggers() -> Iterator[None]:
    """CLI tests configure structlog with cached loggers bound to pytest's captured stderr, which
    is closed after them; give every admin module a fresh, uncached logger for each test."""
    import structlog

    from indexer.admin import cluster, preparer, setup, sweeper

    structlog.reset_defaults()
    for module in (cluster, preparer, setup, sweeper):
        setattr(module, "log", structlog.get_logger())  # noqa: B010
    yield
