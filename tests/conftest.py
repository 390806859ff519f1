"""Fixtures that start the real servers of ../shared/TESTING-NOTES.md on free loopback ports.

Each test gets its own broker and ES-API server (both start in milliseconds), so no state leaks
between tests. Every test that talks to the search server runs on both test beds (see
`indexer.embedded`): a default Elasticsearch 8.x with its built-in templates, and OpenSearch.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.embedded import (
    PRODUCTS,
    CompatProxy,
    Product,
    ServerProcess,
    start_kafka,
    start_opensearch,
)
from tests.support import DEFAULT_CORE, NATIVE_BUILT, stop_leftovers, use_core

CORES = ("native", "python")


@pytest.fixture(autouse=True)
def _no_indexer_left_running() -> Iterator[None]:
    """Every `indexer run` a test starts is killed at teardown, even when the test failed."""
    yield
    stop_leftovers()


@pytest.hookimpl(tryfirst=True)  # before the `product` fixture parametrizes itself
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `reference_core` runs once per core (`[native]`, `[python]`): spawned
    indexers run the native core everywhere it is built, and the reference keeps this subset.
    On both test beds the native core runs; the reference on the first only (the core and the
    test bed are independent, and each run is a few processes more in the suite)."""
    if metafunc.definition.get_closest_marker("reference_core") is None:
        return
    metafunc.fixturenames.append("spawned_core")
    if "product" in metafunc.fixturenames:
        cases = [(product, "native") for product in PRODUCTS] + [(PRODUCTS[0], "python")]
        metafunc.parametrize(("product", "spawned_core"), cases)
    else:
        metafunc.parametrize("spawned_core", CORES)


@pytest.fixture(autouse=True)
def _spawned_core(request: pytest.FixtureRequest) -> Iterator[None]:
    """The core spawned indexers of this test run (tests.support.spawned_core): the test's
    `spawned_core` parameter, else the native core when it is built, else the reference."""
    callspec = getattr(request.node, "callspec", None)
    chosen = callspec.params.get("spawned_core", DEFAULT_CORE) if callspec else DEFAULT_CORE
    if chosen == "native" and not NATIVE_BUILT:
        pytest.skip("the native core is not built here (`make core`); the [python] run covers it")
    use_core(chosen)
    yield
    use_core(DEFAULT_CORE)


@pytest.fixture
def kafka() -> Iterator[ServerProcess]:
    """A fresh Tansu broker; `f"127.0.0.1:{kafka.port}"` is its bootstrap address."""
    server = start_kafka()
    yield server
    server.stop()


@pytest.fixture
def es_server() -> Iterator[ServerProcess]:
    """A fresh osmem ES-API server (use `es_proxy.url` to reach it with the official client)."""
    server = start_opensearch()
    yield server
    server.stop()


@pytest.fixture(params=PRODUCTS)
def product(request: pytest.FixtureRequest) -> Product:
    """Which cluster the test bed behaves as; every test using it runs once for each."""
    chosen: Product = request.param
    return chosen


@pytest.fixture
def es_proxy(es_server: ServerProcess, product: Product) -> Iterator[CompatProxy]:
    """The proxy that dresses `es_server` as `product`, records requests and injects faults."""
    proxy = CompatProxy(es_server.port, product).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def es_url(es_proxy: CompatProxy) -> str:
    return es_proxy.url
