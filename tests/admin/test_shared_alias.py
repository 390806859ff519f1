"""The shard-budget fallback decided once for every replica: an alias with the app index's name
pointing at the namespace's shared index, and replicas that race on it following whichever of
the two names the cluster took first. On both beds (osmem answers the name collisions as
Elasticsearch and OpenSearch do, see `indexer.admin.preparer`)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import orjson

from indexer.admin.preparer import IndexPreparer
from indexer.admin.setup import run_setup
from indexer.admin.sweeper import RetentionSweeper
from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy, Reply
from tests.support import cluster

from .conftest import make_settings, sent

APP = "k8s-logs-shop_web-2026.11.26"
SHARED = "k8s-logs-shop__shared-2026.11.26"
NO_ROOM = 10**6  # a shard reserve no cluster has: this replica always falls back
ROOM = 0  # this replica always finds room


def _race(es_url: str, reserves: tuple[int, int]) -> list[str]:
    """Two replicas (own clients, own caches, own budgets) prepare APP at the same moment."""
    results: list[str] = ["", ""]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def replica(slot: int) -> None:
        client = cluster(es_url)
        try:
            preparer = IndexPreparer(client, make_settings(es_url, shard_reserve=reserves[slot]))
            barrier.wait()
            results[slot] = preparer.ensure(APP)
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=replica, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    return results


def _hold_until(method: str, path: str, proxy: CompatProxy, name: str, kind: str) -> Any:
    """A fault rule: `method path` reaches the cluster only once `name` exists there as `kind`
    ("alias" or "index"), i.e. once the other replica's write is done."""

    def present() -> bool:
        try:
            with urllib.request.urlopen(f"{proxy.upstream_url}/{name}/_alias", timeout=5) as r:
                is_index = name in orjson.loads(r.read())
        except urllib.error.HTTPError:
            return False
        return is_index == (kind == "index")

    def rule(m: str, p: str, body: bytes) -> Reply | None:
        if (m, p) != (method, path):
            return None
        deadline = time.monotonic() + 30
        while not present() and time.monotonic() < deadline:
            time.sleep(0.05)
        return Reply(forward=True)

    return rule


def _aliases(client: SearchClient, name: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.request("GET", f"/{name}/_alias")
    return answer


def test_a_replica_that_finds_room_follows_the_alias_another_replica_created_first(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    run_setup(client, make_settings(es_url))
    # The replica with room decided to create the app index, but its PUT reaches the cluster
    # only once the other replica's alias is there: the cluster refuses the index ("already
    # exists as alias"), and it follows the alias.
    es_proxy.fault = _hold_until("PUT", f"/{APP}", es_proxy, APP, "alias")
    es_proxy.requests.clear()
    assert _race(es_url, (NO_ROOM, ROOM)) == [SHARED, SHARED]
    assert f"/{APP}" in [p for _, p, _ in sent(es_proxy, "PUT")]  # it really tried, and was refused
    assert _aliases(client, APP) == {SHARED: {"aliases": {APP: {"is_write_index": True}}}}


def test_a_replica_that_falls_back_uses_the_app_index_another_replica_created_first(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    run_setup(client, make_settings(es_url))
    # Now the falling-back replica's alias reaches the cluster only once the app index exists:
    # the cluster refuses the alias ("an index exists with the same name"), and it writes to
    # the app index.
    es_proxy.fault = _hold_until("POST", "/_aliases", es_proxy, APP, "index")
    es_proxy.requests.clear()
    assert _race(es_url, (NO_ROOM, ROOM)) == [APP, APP]
    assert [p for m, p, _ in sent(es_proxy, "POST") if p == "/_aliases"] == ["/_aliases"]
    assert _aliases(client, APP) == {APP: {"aliases": {}}}


def test_a_message_redelivered_to_the_other_replica_meets_its_first_copy(
    client: SearchClient, es_url: str
) -> None:
    run_setup(client, make_settings(es_url))
    first, second = _race(es_url, (NO_ROOM, ROOM))  # undelayed: either name may win
    assert first == second and first in (APP, SHARED)
    body = b"".join(
        orjson.dumps({"create": {"_index": target, "_id": "filebeat:0:7"}})
        + b"\n"
        + orjson.dumps({"message": "one line", "service": {"name": "web"}})
        + b"\n"
        for target in (first, second, APP)  # the third writes to the app's own name
    )
    items = client.bulk(body, "items.*.status,items.*._index")["items"]
    assert [item["create"]["status"] for item in items] == [201, 409, 409]
    assert {item["create"]["_index"] for item in items} == {first}
    client.request("POST", f"/{first}/_refresh")
    assert client.request("GET", "/k8s-logs-shop_*/_count")["count"] == 1


def test_a_shared_index_of_a_namespace_with_its_own_policy_is_made_from_its_template(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(
        es_url, shard_reserve=NO_ROOM, namespace_policies={"shop": "k8s-logs-30d"}
    )
    run_setup(client, settings)
    es_proxy.requests.clear()
    assert IndexPreparer(client, settings).ensure(APP) == SHARED
    writes = [(m, p) for m, p, _ in sent(es_proxy) if m in ("PUT", "POST")]
    assert writes == [
        ("PUT", "/_index_template/k8s-logs-ns-shop?create=true"),
        ("PUT", f"/{SHARED}"),
        ("POST", "/_aliases"),
    ]
    template = client.request("GET", "/_index_template/k8s-logs-ns-shop")["index_templates"][0]
    assert template["index_template"]["index_patterns"] == ["k8s-logs-shop_*"]


def test_the_sweeper_deletes_an_expired_shared_index_and_its_aliases_with_it(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    old_shared, old_app = "k8s-logs-shop__shared-2026.11.01", "k8s-logs-shop_web-2026.11.01"
    kept_shared, kept_app = "k8s-logs-shop__shared-2026.11.25", "k8s-logs-shop_web-2026.11.25"
    for shared, app in ((old_shared, old_app), (kept_shared, kept_app)):
        client.request("PUT", f"/{shared}")
        add = {"add": {"index": shared, "alias": app, "is_write_index": True}}
        client.request("POST", "/_aliases", {"actions": [add]})
    es_proxy.requests.clear()
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # fixed on purpose: the sweeper's clock
    assert RetentionSweeper(client, make_settings(es_url), now=lambda: now).sweep() == [old_shared]
    assert [p for m, p, _ in sent(es_proxy, "DELETE")] == [f"/{old_shared}"]
    assert not client.exists(f"/{old_app}")
    assert _aliases(client, kept_app) == {
        kept_shared: {"aliases": {kept_app: {"is_write_index": True}}}
    }
