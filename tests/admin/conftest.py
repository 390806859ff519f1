"""Helpers for the admin tests: settings pointing at a test server, a client, a fake cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy
from indexer.settings import Settings
from tests.support import cluster


def make_settings(url: str, **lifecycle: Any) -> Settings:
    return Settings(elasticsearch={"hosts": [url]}, lifecycle={"mode": "sweeper", **lifecycle})


@pytest.fixture
def client(es_url: str) -> Iterator[SearchClient]:
    es = cluster(es_url)
    yield es
    es.close()


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

    from indexer import cluster
    from indexer.admin import preparer, runtime_check, setup, sweeper

    structlog.reset_defaults()
    for module in (cluster, preparer, runtime_check, setup, sweeper):
        setattr(module, "log", structlog.get_logger())  # noqa: B010
    yield
