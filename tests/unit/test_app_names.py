"""Every reader of index names agrees with the router, now that apps are label values: what
`Router.route` writes, `parse_index` (sweeper, preparer), replay's scope and the per-namespace
metric read back as the same namespace and the same (lower-case) app."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from indexer.admin.naming import parse_index, shared_index
from indexer.metrics import NamespaceCounter
from indexer.replay.scope import Scope, identity_of_index
from indexer.route import Router
from indexer.settings import RoutingSettings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()  # routing is given the time
NAMESPACES = ["a", "a-b", "shop", "x" * 63, "unmatched", "deadletter", "shared"]
APPS = ["b", "b-c", "b_c", "B_C", "Cart-API", "ledger_v2", "web.v2", "a_b", "x_shared"]
APPS += ["Z" * 63, "b_c-2026.11.25"]  # the longest; one that looks like it ends in a day


def _route(namespace: str, app: str) -> str:
    path = f"/data/logs/{namespace}/{app}/pod-0/log/current"
    event = {"@timestamp": "2026-11-25T10:00:00.000Z", "log": {"file": {"path": path}}}
    return Router(RoutingSettings()).route(event, NOW)


def test_every_routed_index_reads_back_as_its_namespace_and_lower_case_app() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for namespace, app in itertools.product(NAMESPACES, APPS):
        index = _route(namespace, app)
        owned = parse_index("k8s-logs", index)
        assert owned is not None and owned.kind == "app", index
        assert (owned.namespace, owned.app) == (namespace, app.lower())
        assert owned.day.isoformat() == "2026-11-25"
        assert identity_of_index("k8s-logs", index) == (namespace, app.lower())
        # Two (namespace, app) pairs meet in one index only when the apps differ in case alone.
        assert seen.setdefault(index, (namespace, app.lower())) == (namespace, app.lower())


def test_the_shared_index_is_never_an_apps_although_apps_may_contain_underscores() -> None:
    for namespace in NAMESPACES:
        owned = parse_index("k8s-logs", shared_index("k8s-logs", namespace, "2026.11.25"))
        assert owned is not None and (owned.kind, owned.namespace) == ("shared", namespace)
        assert (
            identity_of_index("k8s-logs", shared_index("k8s-logs", namespace, "2026.11.25")) is None
        )
    for name in ["k8s-logs-shop_x_-2026.11.25", "k8s-logs-shop_Cart-API-2026.11.25"]:
        assert parse_index("k8s-logs", name) is None  # never written: not ours


def test_the_namespace_metric_counts_an_app_with_underscores_under_its_namespace() -> None:
    def value(namespace: str) -> float:
        sample = REGISTRY.get_sample_value(
            "indexer_namespace_documents_total", {"namespace": namespace}
        )
        return sample or 0.0

    before = value("appnames")
    NamespaceCounter("k8s-logs").count({_route("appnames", "ledger_v2"): 3})
    NamespaceCounter("k8s-logs").count({_route("appnames", "Cart-API"): 2})
    assert value("appnames") - before == 5
    assert value("appnames_ledger") == 0


def test_replay_selects_an_app_in_any_case() -> None:
    identity = identity_of_index("k8s-logs", _route("shop", "Cart-API"))
    assert Scope(apps=frozenset({"Cart-API"})).selects_identity(identity)
    assert Scope(apps=frozenset({"cart-api"})).selects_identity(identity)
    assert not Scope(apps=frozenset({"cart"})).selects_identity(identity)
