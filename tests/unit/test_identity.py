from __future__ import annotations

import pytest

from indexer.identity import Identity, IdentityResolver, LayoutError, app_from_pod, compile_layout
from indexer.settings import DEFAULT_LAYOUTS

resolver = IdentityResolver(DEFAULT_LAYOUTS)


def test_the_default_layout_gives_namespace_app_and_pod() -> None:
    identity = resolver.resolve("/data/logs/shop/cart/cart-7d4b9c8f6-bcd2f/log/app.log")
    assert identity == Identity("shop", "cart", "cart-7d4b9c8f6-bcd2f", None)


def test_s6_log_current_file_resolves_like_any_log_file() -> None:
    identity = resolver.resolve("/data/logs/shop/cart/cart-0/log/current")
    assert identity is not None and identity.app == "cart"


def test_the_kubelet_pods_layout_gives_container_and_the_workload_as_app() -> None:
    identity = resolver.resolve(
        "/var/log/pods/shop_cart-7d4b9c8f6-bcd2f_0d3c1b54-8b4e-4c57-9a43-2a8f5b2d9c11/cart/0.log"
    )
    assert identity == Identity("shop", "cart", "cart-7d4b9c8f6-bcd2f", "cart")


def test_the_kubelet_containers_layout_gives_pod_namespace_and_container() -> None:
    identity = resolver.resolve("/var/log/containers/web-0_shop_istio-proxy-" + "a" * 64 + ".log")
    assert identity == Identity("shop", "web", "web-0", "istio-proxy")


@pytest.mark.parametrize(
    ("pod", "app"),
    [
        ("web-7d4b9c8f6-x2x7q", "web"),
        ("web-api-5c9d7f8b4d-kq2zt", "web-api"),
        ("fluent-bit-x2x7q", "fluent-bit"),
        ("postgres-0", "postgres"),
        ("standalone", "standalone"),
    ],
)
def test_controller_suffixes_are_stripped_from_pod_names(pod: str, app: str) -> None:
    assert app_from_pod(pod) == app


@pytest.mark.parametrize(
    "path",
    [
        "/data/logs/Shop/cart/p/log/a.log",  # uppercase
        "/data/logs/_all/cart/p/log/a.log",
        "/data/logs/.kibana/cart/p/log/a.log",
        "/data/logs/shop/*/p/log/a.log",
        "/data/logs/../cart/p/log/a.log",
        "/data/logs/shop/../p/log/a.log",
        "/data/logs/shop/" + "a" * 64 + "/p/log/a.log",  # app longer than a label
        "/data/logs/-shop/cart/p/log/a.log",
        "/data/logs/shop/cart/p/other/a.log",
        "/data/logs/shop/cart/log/a.log",
        "/var/log/syslog",
        "relative/data/logs/shop/cart/p/log/a.log",
    ],
)
def test_paths_with_illegal_or_missing_names_resolve_to_nothing(path: str) -> None:
    assert resolver.resolve(path) is None


def test_a_custom_layout_is_usable() -> None:
    custom = IdentityResolver(["/srv/{namespace}/{app}/{file}"])
    assert custom.resolve("/srv/ns/app/x.log") == Identity("ns", "app")


@pytest.mark.parametrize(
    ("layout", "problem"),
    [
        ("/data/{app}/{file}", "needs {namespace}"),
        ("/data/{namespace}/{file}", "needs {namespace}"),
        ("/data/{namespace}/{app}/{colour}", "unknown placeholder"),
        ("/data/{namespace}/{app}/{app}", "appears twice"),
        ("data/{namespace}/{app}", "absolute"),
    ],
)
def test_unusable_layouts_are_refused_with_the_reason(layout: str, problem: str) -> None:
    with pytest.raises(LayoutError, match=problem.replace("{", r"\{")):
        compile_layout(layout)


@pytest.mark.parametrize(
    "path",
    [
        "/data/logs/shop\n/cart/cart-0/log/app.log",
        "/data/logs/shop/cart\n/cart-0/log/app.log",
        "/data/logs/shop/cart/cart-0\n/log/app.log",
    ],
)
def test_a_name_ending_in_a_newline_never_becomes_an_identity(path: str) -> None:
    # `$` matches before a final newline; an index name must never carry one.
    assert IdentityResolver(list(DEFAULT_LAYOUTS)).resolve(path) is None


@pytest.mark.parametrize(
    "app",
    [
        "Cart-API",
        "ledger_v2",
        "web.v2",
        "A",
        "9to5",
        "a..b",  # a legal label value; only `..` as a whole path segment climbs
        "x" * 63,
        "X_" * 31 + "X",
    ],
)
def test_an_app_directory_may_be_any_label_value_and_keeps_its_spelling(app: str) -> None:
    identity = resolver.resolve(f"/data/logs/shop/{app}/cart-0/log/current")
    assert identity == Identity("shop", app, "cart-0", None)


@pytest.mark.parametrize(
    "app",
    [
        "..",
        ".",
        "x" * 64,  # a label value has at most 63 characters
        "_cart",
        "cart_",
        "-cart",
        "cart-",
        ".cart",
        "cart.",
        "cart api",
        "cart:api",
        "cart@v2",
        "Cart-API\n",
        "cärt",  # label values are ASCII
    ],
)
def test_app_directories_that_are_no_label_value_resolve_to_nothing(app: str) -> None:
    assert resolver.resolve(f"/data/logs/shop/{app}/cart-0/log/current") is None


def test_an_app_is_one_path_segment() -> None:
    assert resolver.resolve("/data/logs/shop/cart/api/cart-0/log/current") is None


@pytest.mark.parametrize(
    "path",
    [
        "/data/logs/Shop/Cart-API/cart-0/log/current",  # namespaces stay DNS-1123 labels
        "/data/logs/my_shop/Cart-API/cart-0/log/current",
        "/data/logs/shop/Cart-API/Cart-0/log/current",  # so do pods
        "/data/logs/shop/Cart-API/cart_0/log/current",
    ],
)
def test_namespaces_and_pods_keep_their_stricter_rules(path: str) -> None:
    assert resolver.resolve(path) is None


def test_an_app_next_to_names_without_underscores_splits_one_way_only() -> None:
    custom = IdentityResolver(["/srv/{namespace}_{app}_{pod}/{file}"])
    assert custom.resolve("/srv/shop_ledger_v2_ledger-0/x.log") == Identity(
        "shop", "ledger_v2", "ledger-0"
    )
