"""The retention sweeper on osmem: deletes exactly the expired indices it owns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from indexer.admin.sweeper import RetentionSweeper

from .conftest import make_settings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EXPIRED = [
    "logs-shop_cart-2026.11.19",  # default policy logs-7d: 7 days old at 00:00 of the 26th
    "logs-shop__shared-2026.11.01",
    "logs-pay_api-2026.10.27",  # namespace rule: logs-30d, 30 days
    "logs-deadletter-2026.10.20",  # its template names logs-30d
    "logs-unmatched-2026.11.18",
]
KEPT = [
    "logs-shop_cart-2026.11.20",
    "logs-pay_api-2026.10.28",
    "logs-deadletter-2026.11.01",
    "logs-unmatched-2026.11.25",
    "logs-shop_cart-2026.11.26",
    "logs-2020.01.01",  # not a name the indexer writes
    "logs-shop_cart-2020.13.01",  # not a real day
    "logs-shop-cart-2020.01.01",
    "other-shop_cart-2020.01.01",
    "logsx-shop_cart-2020.01.01",
]


def _indices(client: Elasticsearch) -> set[str]:
    rows: Any = client.cat.indices(format="json", h="index").body
    return {row["index"] for row in rows}


def test_the_sweeper_deletes_exactly_the_expired_indices_it_owns(
    client: Elasticsearch, es_url: str
) -> None:
    for name in EXPIRED + KEPT:
        client.indices.create(index=name)
    settings = make_settings(es_url, namespace_policies={"pay": "logs-30d"})
    sweeper = RetentionSweeper(client, settings, now=lambda: NOW)
    assert sorted(sweeper.sweep()) == sorted(EXPIRED)
    assert _indices(client) == set(KEPT)
    assert sweeper.sweep() == []


def test_a_dry_run_names_the_expired_indices_and_deletes_none(
    client: Elasticsearch, es_url: str
) -> None:
    for name in EXPIRED + KEPT:
        client.indices.create(index=name)
    settings = make_settings(es_url, namespace_policies={"pay": "logs-30d"}, sweeper_dry_run=True)
    assert sorted(RetentionSweeper(client, settings, now=lambda: NOW).sweep()) == sorted(EXPIRED)
    assert _indices(client) == set(EXPIRED + KEPT)
