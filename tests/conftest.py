"""Fixtures that start the real servers of ../shared/TESTING-NOTES.md on free loopback ports.

Each test gets its own broker and ES-API server (both start in milliseconds), so no state leaks
between tests. A test that talks to the search server in-process runs on both test beds (see
`indexer.embedded`): a default Elasticsearch 8.x with its built-in templates, and OpenSearch.

The lanes (README "Development"): `tests/unit` needs no server; a test marked `slow` runs
`indexer` as a process (end to end) and runs on ONE bed, `E2E_PRODUCT`, unless it is also marked
`dialect` (the product is its subject) or parametrizes `product` itself; every other test is the
cluster lane.
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


# The bed of the end-to-end lane: the stricter one (built-in templates, data-stream-only names,
# compatible-with media types). What only OpenSearch answers is tested in-process or per item.
E2E_PRODUCT: Product = "elasticsearch"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that reaches `product` runs on both beds, except an end-to-end test (`slow`)
    whose subject is not the product (no `dialect` mark): that one runs on `E2E_PRODUCT`.

    A test marked `reference_core` runs once per core (`[native]`, `[python]`): spawned
    indexers run the native core everywhere it is built, and the reference keeps this subset.
    On each of its beds the native core runs; the reference on the first only (the core and the
    test bed are independent, and each run is a few processes more in the suite)."""
    reference = metafunc.definition.get_closest_marker("reference_core") is not None
    if reference:
        metafunc.fixturenames.append("spawned_core")
    products: list[Product] | None = None
    if "product" in metafunc.fixturenames:
        chosen_by_test = any(
            "product" in (names.replace(" ", "").split(",") if isinstance(names, str) else names)
            for names in (mark.args[0] for mark in metafunc.definition.iter_markers("parametrize"))
        )
        if not chosen_by_test:
            one = metafunc.definition.get_closest_marker("slow") is not None
            both = metafunc.definition.get_closest_marker("dialect") is not None
            products = [E2E_PRODUCT] if one and not both else list(PRODUCTS)
    if products is None:
        if reference:
            metafunc.parametrize("spawned_core", CORES)
    elif reference:
        cases = [(product, "native") for product in products] + [(products[0], "python")]
        metafunc.parametrize(("product", "spawned_core"), cases)
    else:
        metafunc.parametrize("product", products)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first (a stable sort: each lane keeps its order): the parallel workers
    start on the long runs and end on short ones, instead of one worker finishing a long run
    alone while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def product(request: pytest.FixtureRequest) -> Product:
    """Which cluster the test bed behaves as (parametrized by `pytest_generate_tests`)."""
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
