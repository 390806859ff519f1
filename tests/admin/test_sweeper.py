"""The retention sweeper on osmem: deletes exactly the expired indices it owns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from indexer.admin.sweeper import RetentionSweeper
from indexer.cluster import SearchClient
from tests.support import days_ago

from .conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # fixed on purpose: the sweeper gets this clock
EXPIRED = [
    "k8s-logs-shop_cart-2026.11.19",  # default policy k8s-logs-7d: 7 days old at 00:00 of the 26th
    "k8s-logs-shop__shared-2026.11.01",
    "k8s-logs-pay_api-2026.10.27",  # namespace rule: k8s-logs-30d, 30 days
    "k8s-logs-deadletter-2026.10.20",  # its template names k8s-logs-30d
    "k8s-logs-unmatched-2026.11.18",
]
KEPT = [
    "k8s-logs-shop_cart-2026.11.20",
    "k8s-logs-pay_api-2026.10.28",
    "k8s-logs-deadletter-2026.11.01",
    "k8s-logs-unmatched-2026.11.25",
    "k8s-logs-shop_cart-2026.11.26",
    "k8s-logs-2020.01.01",  # not a name the indexer writes
    "k8s-logs-shop_cart-2020.13.01",  # not a real day
    "k8s-logs-shop-cart-2020.01.01",
    "other-shop_cart-2020.01.01",
    "logsx-shop_cart-2020.01.01",
]


def _indices(client: SearchClient) -> set[str]:
    rows: Any = client.request("GET", "/_cat/indices", params={"format": "json", "h": "index"})
    return {row["index"] for row in rows}


def test_the_sweeper_deletes_exactly_the_expired_indices_it_owns(
    client: SearchClient, es_url: str
) -> None:
    for name in EXPIRED + KEPT:
        client.request("PUT", f"/{name}")
    settings = make_settings(es_url, namespace_policies={"pay": "k8s-logs-30d"})
    sweeper = RetentionSweeper(client, settings, now=lambda: NOW)
    assert sorted(sweeper.sweep()) == sorted(EXPIRED)
    assert _indices(client) == set(KEPT)
    assert sweeper.sweep() == []


def test_a_dry_run_names_the_expired_indices_and_deletes_none(
    client: SearchClient, es_url: str
) -> None:
    for name in EXPIRED + KEPT:
        client.request("PUT", f"/{name}")
    settings = make_settings(
        es_url, namespace_policies={"pay": "k8s-logs-30d"}, sweeper_dry_run=True
    )
    assert sorted(RetentionSweeper(client, settings, now=lambda: NOW).sweep()) == sorted(EXPIRED)
    assert _indices(client) == set(EXPIRED + KEPT)


def test_indices_of_apps_with_underscores_and_dots_expire_by_their_namespaces_policy(
    client: SearchClient, es_url: str
) -> None:
    def day(days: int) -> str:
        return days_ago(days).strftime("%Y.%m.%d")

    expired = [f"k8s-logs-shop_ledger_v2-{day(8)}", f"k8s-logs-shop_web.v2_x-{day(8)}"]
    # `pay` keeps 30 days: read as namespace `pay_ledger`, it would get the 7-day default.
    kept = [f"k8s-logs-shop_ledger_v2-{day(1)}", f"k8s-logs-pay_ledger_v2-{day(8)}"]
    for name in expired + kept:
        client.request("PUT", f"/{name}")
    settings = make_settings(es_url, namespace_policies={"pay": "k8s-logs-30d"})
    sweeper = RetentionSweeper(client, settings, now=lambda: datetime.now(UTC))
    assert sorted(sweeper.sweep()) == sorted(expired)
    assert _indices(client) == set(kept)
