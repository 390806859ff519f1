"""The index preparer against osmem: per-namespace templates on first sight, explicit creation,
and the shard budget's shared fallback (osmem does not enforce the limit, so the tests observe
the requests the preparer sends, or inject Elasticsearch's refusal through the proxy)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable

import pytest

from indexer.admin import metrics
from indexer.admin.naming import parse_index, shared_index
from indexer.admin.preparer import (
    IndexBlocked,
    IndexPreparer,
    PrepareRejected,
    ShardBudgetExhausted,
    TemplatesMissing,
)
from indexer.admin.setup import run_setup
from indexer.cluster import ClusterError, ClusterInfo, SearchClient
from indexer.embedded import CompatProxy, Reply
from indexer.retry import retryable
from tests.support import cluster, days_ago

from .conftest import make_settings, sent

SHARD_LIMIT = {
    "error": {
        "root_cause": [
            {
                "type": "validation_exception",
                "reason": "Validation Failed: 1: this "
                "action would add [2] shards, but this cluster currently has [1000]/[1000] "
                "maximum normal shards open;",
            }
        ],
        "type": "validation_exception",
        "reason": "Validation Failed: 1: this action would add [2] shards, but this cluster "
        "currently has [1000]/[1000] maximum normal shards open;",
    },
    "status": 400,
}


def test_a_namespace_with_its_own_policy_gets_a_template_before_its_first_index(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url, namespace_policies={"pay*": "k8s-logs-30d"})
    run_setup(client, settings)
    es_proxy.requests.clear()
    preparer = IndexPreparer(client, settings)
    assert preparer.ensure("k8s-logs-payments_api-2026.11.26") == "k8s-logs-payments_api-2026.11.26"
    puts = [p for m, p, _ in sent(es_proxy, "PUT")]
    assert puts == [
        "/_index_template/k8s-logs-ns-payments?create=true",
        "/k8s-logs-payments_api-2026.11.26",
    ]
    stored = client.request("GET", "/_index_template/k8s-logs-ns-payments")["index_templates"][0]
    template = stored["index_template"]
    assert template["index_patterns"] == ["k8s-logs-payments_*"]
    assert template["priority"] == 520
    assert template["_meta"]["lifecycle_policy"] == "k8s-logs-30d"
    mapping = client.request("GET", "/k8s-logs-payments_api-2026.11.26/_mapping")
    labels = mapping["k8s-logs-payments_api-2026.11.26"]["mappings"]["properties"]["kubernetes"]
    assert labels["properties"]["labels"] == {"type": "object"}  # of keywords (ECS, filebeat)

    es_proxy.requests.clear()
    preparer.ensure("k8s-logs-payments_web-2026.11.26")  # same namespace: template not put again
    assert [p for m, p, _ in sent(es_proxy, "PUT")] == ["/k8s-logs-payments_web-2026.11.26"]


def test_a_namespace_on_the_default_policy_gets_no_template_of_its_own(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(
        es_url, namespace_policies={"pay*": "k8s-logs-30d", "dev": "k8s-logs-7d"}
    )
    run_setup(client, settings)
    es_proxy.requests.clear()
    IndexPreparer(client, settings).ensure("k8s-logs-dev_api-2026.11.26")
    assert [p for m, p, _ in sent(es_proxy, "PUT")] == ["/k8s-logs-dev_api-2026.11.26"]


def _held_until_all_arrive(parties: int) -> Callable[[], bool]:
    """A gate for one kind of request: the first `parties` of them wait for one another, so
    every replica has looked before any has created. True for the first one to arrive."""
    barrier = threading.Barrier(parties, timeout=20)
    arrived = itertools.count()

    def gate() -> bool:
        first = next(arrived) == 0
        barrier.wait()
        return first

    return gate


def test_replicas_racing_on_a_new_namespace_and_index_all_succeed(
    es_url: str, es_proxy: CompatProxy
) -> None:
    index = "k8s-logs-payments_api-2026.11.26"
    settings = make_settings(es_url, namespace_policies={"pay*": "k8s-logs-30d"})
    setup_client = cluster(es_url)
    run_setup(setup_client, settings)
    setup_client.close()
    es_proxy.requests.clear()
    replicas = 6
    template_read = _held_until_all_arrive(replicas)
    index_read = _held_until_all_arrive(replicas)
    first_puts: set[str] = set()
    lock = threading.Lock()

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if method == "GET" and path.startswith("/_index_template/k8s-logs-ns-payments"):
            template_read()
        elif method == "GET" and path.startswith(f"/{index}/_alias"):
            index_read()
        elif method == "PUT" and path.startswith(("/_index_template/k8s-logs-ns-", f"/{index}")):
            kind = path.split("?", 1)[0]
            with lock:
                first = kind not in first_puts
                first_puts.add(kind)
            if first:  # the first to ask is answered last: it meets the others' object
                return Reply(forward=True, delay=1.0)
        return None

    es_proxy.fault = rule
    clients = [cluster(es_url) for _ in range(replicas)]
    preparers = [IndexPreparer(c, settings) for c in clients]
    results: list[str] = []
    errors: list[BaseException] = []
    templates_before = metrics.NAMESPACE_TEMPLATES._value.get()
    prepared = metrics.INDICES_PREPARED
    created_before = prepared.labels("created")._value.get()
    existing_before = prepared.labels("existing")._value.get()

    def prepare(p: IndexPreparer) -> None:
        try:
            results.append(p.ensure(index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=prepare, args=(p,)) for p in preparers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    assert errors == []
    assert results == [index] * replicas
    puts = [p.split("?", 1)[0] for m, p, _ in sent(es_proxy, "PUT")]
    # The replicas looked before any created, so several tried: one won each race, and the
    # others took the "already exists" branches. (A replica whose look-up came late, seen once
    # in 6 on a fresh CI machine, finds the template and puts none: so "several", not "all".)
    assert 2 <= puts.count("/_index_template/k8s-logs-ns-payments") <= replicas
    assert puts.count(f"/{index}") == replicas
    assert metrics.NAMESPACE_TEMPLATES._value.get() == templates_before + 1
    assert prepared.labels("created")._value.get() == created_before + 1
    assert prepared.labels("existing")._value.get() == existing_before + replicas - 1


def test_without_setup_privileges_a_namespace_policy_goes_into_the_create_request_on_ilm(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(
        es_url, namespace_policies={"pay*": "k8s-logs-30d"}, setup_on_start=False
    )
    run_setup(client, settings)
    es_proxy.requests.clear()

    def without_lifecycle(method: str, path: str, body: bytes) -> Reply | None:
        """osmem has no ILM and refuses the setting: pass the request on without it."""
        if method == "PUT" and path.startswith("/k8s-logs-pay") and body:
            stripped = {k: v for k, v in json.loads(body).items() if k != "settings"}
            return Reply(forward=True, send=json.dumps(stripped).encode())
        return None

    es_proxy.fault = without_lifecycle
    ilm = ClusterInfo(client.distribution, client.version, "ilm")
    preparer = IndexPreparer(client, settings, cluster=ilm)
    assert preparer.ensure("k8s-logs-payments_api-2026.11.26") == "k8s-logs-payments_api-2026.11.26"
    preparer.ensure("k8s-logs-shop_cart-2026.11.26")
    puts = {path: body for _, path, body in sent(es_proxy, "PUT")}
    assert list(puts) == ["/k8s-logs-payments_api-2026.11.26", "/k8s-logs-shop_cart-2026.11.26"]
    assert puts["/k8s-logs-payments_api-2026.11.26"]["settings"] == {
        "index.lifecycle.name": "k8s-logs-30d"
    }
    assert "settings" not in puts["/k8s-logs-shop_cart-2026.11.26"]  # the default policy


def test_without_setup_privileges_an_index_without_our_mappings_is_not_written_to(
    client: SearchClient, es_url: str
) -> None:
    settings = make_settings(es_url, setup_on_start=False)
    heard: list[bool] = []
    preparer = IndexPreparer(client, settings, on_templates=heard.append)
    index = "k8s-logs-shop_cart-2026.11.26"
    with pytest.raises(TemplatesMissing, match=f"index {index} .* run `indexer setup`"):
        preparer.ensure(index)  # no templates: the index was created bare
    assert heard == [False]
    assert retryable(TemplatesMissing("x"))  # parked and retried, never dead-lettered

    run_setup(client, settings)
    with pytest.raises(TemplatesMissing):
        preparer.ensure(index)  # the bare index is still there: still not written to
    client.request("DELETE", f"/{index}")  # the runbook's step
    assert preparer.ensure(index) == index
    assert heard == [False, False, True]


def test_an_existing_index_is_used_without_creating_anything(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url, shard_reserve=10**6)  # even with no headroom at all
    run_setup(client, settings)
    client.request("PUT", "/k8s-logs-shop_cart-2026.11.26")
    es_proxy.requests.clear()
    assert IndexPreparer(client, settings).ensure("k8s-logs-shop_cart-2026.11.26") == (
        "k8s-logs-shop_cart-2026.11.26"
    )
    assert sent(es_proxy, "PUT") == []


def test_below_the_shard_reserve_a_new_app_goes_to_the_namespace_shared_index(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url, shard_reserve=4)
    run_setup(client, settings)
    client.request("PUT", "/_cluster/settings", {"persistent": {"cluster.max_shards_per_node": 7}})
    before = metrics.SHARD_BUDGET_FALLBACK.labels("shop")._value.get()
    preparer = IndexPreparer(client, settings)
    # 7 allowed, 0 open: a 2-shard index leaves 5 >= 4.
    assert preparer.ensure("k8s-logs-shop_cart-2026.11.26") == "k8s-logs-shop_cart-2026.11.26"
    es_proxy.requests.clear()
    # 2 open now: another would leave 3 < 4, so the app shares the namespace's index.
    shared = "k8s-logs-shop__shared-2026.11.26"
    assert preparer.ensure("k8s-logs-shop_web-2026.11.26") == shared
    assert preparer.ensure("k8s-logs-shop_db-2026.11.26") == shared
    assert [p for m, p, _ in sent(es_proxy, "PUT")] == [f"/{shared}"]
    assert metrics.SHARD_BUDGET_FALLBACK.labels("shop")._value.get() == before + 2
    assert metrics.SHARD_HEADROOM._value.get() == 3  # 7 - cart (2) - shared (2)
    # The app's name is an alias of the shared index, not an index of its own.
    assert client.request("GET", "/k8s-logs-shop_web-2026.11.26/_alias") == {
        shared: {
            "aliases": {
                name: {"is_write_index": True}
                for name in ("k8s-logs-shop_db-2026.11.26", "k8s-logs-shop_web-2026.11.26")
            }
        }
    }

    client.request("POST", f"/{shared}/_doc", {"service": {"name": "web"}}, {"refresh": "true"})
    # Another replica (fresh cache) keeps a shared app on the shared index that day.
    assert IndexPreparer(client, settings).ensure("k8s-logs-shop_web-2026.11.26") == shared


def test_the_clusters_shard_limit_refusal_sends_the_app_to_the_shared_index(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    es_proxy.fault = lambda method, path, body: (
        Reply(400, json.dumps(SHARD_LIMIT).encode())
        if method == "PUT" and path == "/k8s-logs-shop_cart-2026.11.26"
        else None
    )
    assert IndexPreparer(client, settings).ensure("k8s-logs-shop_cart-2026.11.26") == (
        "k8s-logs-shop__shared-2026.11.26"
    )
    assert client.exists("/k8s-logs-shop__shared-2026.11.26")


def test_when_not_even_the_shared_index_fits_the_writer_is_told_to_retry(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    es_proxy.fault = lambda method, path, body: (
        Reply(400, json.dumps(SHARD_LIMIT).encode())
        if method == "PUT" and path.startswith("/k8s-logs-shop")
        else None
    )
    preparer = IndexPreparer(client, settings)
    with pytest.raises(ShardBudgetExhausted, match="maximum normal shards open"):
        preparer.ensure("k8s-logs-shop_cart-2026.11.26")
    es_proxy.fault = None  # shards freed: the next attempt succeeds
    assert preparer.ensure("k8s-logs-shop_cart-2026.11.26") == "k8s-logs-shop_cart-2026.11.26"


def test_dead_letter_and_unmatched_indices_are_always_created_as_named(
    client: SearchClient, es_url: str
) -> None:
    settings = make_settings(es_url, shard_reserve=10**6)
    run_setup(client, settings)
    preparer = IndexPreparer(client, settings)
    for name in ("k8s-logs-deadletter-2026.11.26", "k8s-logs-unmatched-2026.11.26"):
        assert preparer.ensure(name) == name
        assert client.exists(f"/{name}")


def test_the_shared_index_name_can_never_be_an_apps() -> None:
    name = shared_index("k8s-logs", "shop", "2026.11.26")
    owned = parse_index("k8s-logs", name)
    assert owned is not None and owned.kind == "shared" and owned.namespace == "shop"
    app = parse_index("k8s-logs", "k8s-logs-shop_shared-2026.11.26")
    assert app is not None and app.kind == "app" and app.app == "shared"
    assert parse_index("k8s-logs", "k8s-logs-shop_.x-2026.11.26") is None


def test_an_app_whose_label_has_upper_case_stays_on_the_shared_index_it_was_sent_to(
    client: SearchClient, es_url: str
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    day = days_ago(0).strftime("%Y.%m.%d")
    shared = shared_index("k8s-logs", "shop", day)
    client.request("PUT", f"/{shared}")
    # The router wrote `service.name` as the label has it; the index name has it lower-cased.
    client.request(
        "POST", f"/{shared}/_doc", {"service": {"name": "Cart-API"}}, {"refresh": "true"}
    )
    preparer = IndexPreparer(client, settings)  # plenty of shards: only the shared day decides
    assert preparer.ensure(f"k8s-logs-shop_cart-api-{day}") == shared
    # The app's name is now an alias of the shared index (for the other replicas), not an index.
    assert set(client.request("GET", f"/k8s-logs-shop_cart-api-{day}/_alias")) == {shared}
    assert preparer.ensure(f"k8s-logs-shop_ledger_v2-{day}") == f"k8s-logs-shop_ledger_v2-{day}"


FORBIDDEN = {
    "error": {
        "type": "security_exception",
        "reason": "action [indices:admin/index_template/get] is unauthorized for API key id [x1]",
    },
    "status": 403,
}
READ_ONLY = {
    "error": {
        "type": "cluster_block_exception",
        "reason": "blocked by: [FORBIDDEN/6/cluster read-only (api)];",
    },
    "status": 403,
}


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_refused_namespace_template_rejects_the_index_asked_for_naming_the_template(
    client: SearchClient, es_url: str, es_proxy: CompatProxy, method: str
) -> None:
    settings = make_settings(es_url, namespace_policies={"pay*": "k8s-logs-30d"})
    run_setup(client, settings)
    es_proxy.fault = lambda m, path, body: (
        Reply(403, json.dumps(FORBIDDEN).encode())
        if m == method and path.startswith("/_index_template/k8s-logs-ns-payments")
        else None
    )
    preparer = IndexPreparer(client, settings)
    with pytest.raises(PrepareRejected) as refused:
        preparer.ensure("k8s-logs-payments_api-2026.11.26")
    assert refused.value.index == "k8s-logs-payments_api-2026.11.26"  # never the template's name
    assert refused.value.error_type == "security_exception"
    assert refused.value.reason.startswith("namespace template k8s-logs-ns-payments: action [")
    assert not client.exists("/k8s-logs-payments_api-2026.11.26")
    es_proxy.fault = None  # a refusal is not remembered: once allowed, the index is prepared
    assert preparer.ensure("k8s-logs-payments_api-2026.11.26") == "k8s-logs-payments_api-2026.11.26"


@pytest.mark.parametrize(
    ("status", "body", "raised"),
    [
        (429, {"error": {"type": "es_rejected_execution_exception"}, "status": 429}, ClusterError),
        (503, {"error": {"type": "master_not_discovered_exception"}, "status": 503}, ClusterError),
        (401, {"error": {"type": "security_exception"}, "status": 401}, ClusterError),
        (403, READ_ONLY, IndexBlocked),
    ],
)
def test_a_transient_refusal_of_a_namespace_template_or_index_is_retried_not_rejected(
    client: SearchClient,
    es_url: str,
    es_proxy: CompatProxy,
    status: int,
    body: dict[str, object],
    raised: type[Exception],
) -> None:
    settings = make_settings(es_url, namespace_policies={"pay*": "k8s-logs-30d"})
    run_setup(client, settings)
    preparer = IndexPreparer(client, settings)
    for target in ("/_index_template/k8s-logs-ns-payments", "/k8s-logs-payments_api-2026.11.26"):
        es_proxy.fault = lambda m, path, b, target=target: (  # type: ignore[misc]
            Reply(status, json.dumps(body).encode())
            if m == "PUT" and path.split("?")[0] == target
            else None
        )
        with pytest.raises(raised) as caught:
            preparer.ensure("k8s-logs-payments_api-2026.11.26")
        assert not isinstance(caught.value, PrepareRejected)
        assert retryable(caught.value)
    es_proxy.fault = None
    assert preparer.ensure("k8s-logs-payments_api-2026.11.26") == "k8s-logs-payments_api-2026.11.26"


def test_a_malformed_alias_answer_is_retried_not_a_crash(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    # Seen with a stand-in that acknowledged every request: `{"acknowledged": true}` to
    # `GET /<index>/_alias` made the preparer raise AttributeError and the indexer exit.
    settings = make_settings(es_url)
    run_setup(client, settings)
    es_proxy.fault = lambda m, path, body: (
        Reply(200, b'{"acknowledged":true}') if m == "GET" and "/_alias" in path else None
    )
    preparer = IndexPreparer(client, settings)
    with pytest.raises(ClusterError) as caught:
        preparer.ensure("k8s-logs-shop_cart-2026.11.26")
    assert retryable(caught.value) and caught.value.error_type == "malformed_response"
    es_proxy.fault = None
    assert preparer.ensure("k8s-logs-shop_cart-2026.11.26") == "k8s-logs-shop_cart-2026.11.26"
