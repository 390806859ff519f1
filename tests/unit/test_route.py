from __future__ import annotations

import json
import re
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from indexer.identity import MAX_CACHED_PATH, PathCache
from indexer.route import DayResolver, Router
from indexer.settings import RoutingSettings

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
LEGAL_INDEX = re.compile(r"^[a-z0-9][a-z0-9._+-]*$")


def _event(path: str | None, stamp: object = "2026-11-25T23:59:59.999Z") -> dict[str, Any]:
    event: dict[str, Any] = {"@timestamp": stamp, "message": "m"}
    if path is not None:
        event["log"] = {"file": {"path": path}}
    return event


def test_an_event_goes_to_its_namespace_app_and_utc_day() -> None:
    router = Router(RoutingSettings())
    event = _event("/data/logs/shop/cart/cart-0/log/a.log")
    assert router.route(event, NOW) == "k8s-logs-shop_cart-2026.11.25"
    assert event["kubernetes"] == {"namespace": "shop", "pod": {"name": "cart-0"}}
    assert event["service"] == {"name": "cart"}


def test_hyphenated_names_never_share_an_index() -> None:
    router = Router(RoutingSettings())
    first = router.route(_event("/data/logs/a-b/c/p/log/x.log"), NOW)
    second = router.route(_event("/data/logs/a/b-c/p/log/x.log"), NOW)
    assert first != second


def test_a_timestamp_with_an_offset_is_dated_in_utc() -> None:
    router = Router(RoutingSettings())
    event = _event("/data/logs/shop/cart/p/log/a.log", "2026-11-26T01:30:00+03:00")
    assert router.route(event, NOW) == "k8s-logs-shop_cart-2026.11.25"
    assert event["@timestamp"] == "2026-11-26T01:30:00+03:00"


@pytest.mark.parametrize("stamp", ["2019-01-01T00:00:00.000Z", "2027-06-01T00:00:00.000Z"])
def test_far_off_timestamps_use_the_ingestion_day_and_keep_their_value(stamp: str) -> None:
    router = Router(RoutingSettings())
    event = _event("/data/logs/shop/cart/p/log/a.log", stamp)
    assert router.route(event, NOW) == "k8s-logs-shop_cart-2026.11.26"
    assert event["@timestamp"] == stamp
    assert "indexer_timestamp" not in event
    assert router.take_counters() == (0, 1, 0)


NOT_DATES = [
    1732600000,
    True,
    {"a": 1},
    "",
    "not a date",
    "2026-13-45T00:00:00.000Z",
    "2026-11-25T2x:00:00.000Z",
    "2026-11-26T10:00garbage!!Z",
    "2026-11-26T10:00:61.000Z",
    "2026-11-26T10:00:60.000Z",  # no leap second in a date field
    "2026-11-26T10:00+01:00Z",
    "2026-11-26T10:00:00.1234567890Z",  # more than nanoseconds
    "2026-11-26T10:00:00.Z",
    "2026-11-26 10:00:00.000Z",  # strict_date_optional_time wants the T
    "2026-11-26T10:00:00.000+19:00",  # beyond java.time's offsets
    "2026-02-30T10:00:00.000Z",
    "2026-11-26T24:00:00.000Z",
    "\uff12\uff10\uff12\uff16-11-26T10:00:00.000Z",  # other scripts' digits (fullwidth)
    "2026-11-26T10:00:00.000z",
]


@pytest.mark.parametrize("stamp", NOT_DATES)
def test_a_timestamp_that_is_not_a_date_is_set_aside_and_the_kafka_time_replaces_it(
    stamp: object,
) -> None:
    router = Router(RoutingSettings())
    for _ in range(2):  # the second time from the caches
        event = _event("/data/logs/shop/cart/p/log/a.log", stamp)
        assert router.route(event, NOW) == "k8s-logs-shop_cart-2026.11.26"
        assert event["@timestamp"] == "2026-11-26T12:00:00.000Z"
        original = stamp if isinstance(stamp, str) else json.dumps(stamp, separators=(",", ":"))
        assert event["indexer_timestamp"] == {"original": original, "reason": "not_a_date"}
        assert router.take_counters() == (0, 1, 1)


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2026-11-26T10:00:59.612Z", "2026.11.26"),
        ("2026-11-26T10:00:00Z", "2026.11.26"),
        ("2026-11-26T10:00:00.1Z", "2026.11.26"),
        ("2026-11-26T10:00:00.123456789Z", "2026.11.26"),
        ("2026-11-26T10:00Z", "2026.11.26"),
        ("2026-11-26T10:00", "2026.11.26"),
        ("2026-11-26", "2026.11.26"),
        ("2026-11-26T01:30:00+03:00", "2026.11.25"),
        ("2026-11-26T01:30:00.5+0300", "2026.11.25"),
        ("2026-11-25T22:30:00-18:00", "2026.11.26"),
    ],
)
def test_every_shape_of_date_routes_by_its_own_day_and_stays(stamp: str, day: str) -> None:
    router = Router(RoutingSettings())
    for _ in range(2):
        event = _event("/data/logs/shop/cart/p/log/a.log", stamp)
        assert router.route(event, NOW) == f"k8s-logs-shop_cart-{day}"
        assert event["@timestamp"] == stamp
        assert "indexer_timestamp" not in event
        assert router.take_counters() == (0, 0, 0)


def test_an_event_without_a_timestamp_gets_the_ingestion_time() -> None:
    router = Router(RoutingSettings())
    event = _event("/data/logs/shop/cart/p/log/a.log")
    del event["@timestamp"]
    assert router.route(event, NOW) == "k8s-logs-shop_cart-2026.11.26"
    assert event["@timestamp"] == "2026-11-26T12:00:00.000Z"


def test_bounds_are_configurable() -> None:
    days = DayResolver(max_past=timedelta(days=400), max_future=timedelta(0))
    assert days.day("2026-01-01T00:00:00.000Z", NOW) == "2026.01.01"
    assert days.day("2026-11-26T12:01:00.000Z", NOW) == "2026.11.26"  # a minute ahead: redated
    assert days.redated == 1


def test_unmatched_paths_go_to_the_unmatched_index_without_kubernetes_fields() -> None:
    router = Router(RoutingSettings())
    event = _event("/var/log/syslog")
    assert router.route(event, NOW) == "k8s-logs-unmatched-2026.11.25"
    assert "kubernetes" not in event
    assert router.route(_event(None), NOW) == "k8s-logs-unmatched-2026.11.25"
    assert router.route({"log": "not an object"}, NOW) == "k8s-logs-unmatched-2026.11.26"
    assert router.take_counters() == (3, 1, 0)


def test_fields_filebeat_sent_are_kept_next_to_ours() -> None:
    router = Router(RoutingSettings())
    event = _event("/data/logs/shop/cart/p/log/a.log")
    event["kubernetes"] = {"labels": {"app": "cart"}}
    event["service"] = "legacy"
    router.route(event, NOW)
    assert event["kubernetes"]["labels"] == {"app": "cart"}
    assert event["service"] == {"original": "legacy", "name": "cart"}


@pytest.mark.parametrize(
    "path",
    [
        "/data/logs/_all/x/p/log/a.log",
        "/data/logs/a/*/p/log/a.log",
        "/data/logs/A/b/p/log/a.log",
        "/data/logs/a/.kibana/p/log/a.log",
        "/data/logs/" + "n" * 63 + "/" + "a" * 63 + "/p/log/a.log",
        "/data/logs/a/b,c/p/log/a.log",
        '/data/logs/a/b"c/p/log/a.log',
        "/data/logs/a/b c/p/log/a.log",
    ],
)
def test_no_path_produces_an_illegal_or_foreign_index_name(path: str) -> None:
    index = Router(RoutingSettings()).route(_event(path), NOW)
    assert index.startswith("k8s-logs-")
    assert LEGAL_INDEX.match(index), index
    assert len(index.encode()) <= 255


def test_the_dead_letter_index_is_dated_by_the_kafka_timestamp() -> None:
    assert Router(RoutingSettings()).deadletter_index(NOW) == "k8s-logs-deadletter-2026.11.26"


@pytest.mark.parametrize(
    ("app", "index"),
    [
        ("Cart-API", "k8s-logs-shop_cart-api-2026.11.25"),
        ("ledger_v2", "k8s-logs-shop_ledger_v2-2026.11.25"),
        ("Web.V2", "k8s-logs-shop_web.v2-2026.11.25"),
    ],
)
def test_a_label_value_app_gets_its_lower_case_index_and_keeps_its_own_service_name(
    app: str, index: str
) -> None:
    router = Router(RoutingSettings())
    event = _event(f"/data/logs/shop/{app}/p-0/log/current")
    assert router.route(event, NOW) == index
    assert LEGAL_INDEX.fullmatch(index)
    assert event["service"] == {"name": app}
    assert event["kubernetes"] == {"namespace": "shop", "pod": {"name": "p-0"}}
    assert router.take_counters() == (0, 0, 0)


def test_apps_differing_only_in_case_share_an_index_and_are_told_apart_by_service_name() -> None:
    router = Router(RoutingSettings())
    upper, lower = (
        _event("/data/logs/shop/Cart-API/p/log/a"),
        _event("/data/logs/shop/cart-api/p/log/a"),
    )
    assert router.route(upper, NOW) == router.route(lower, NOW)
    assert (upper["service"]["name"], lower["service"]["name"]) == ("Cart-API", "cart-api")


def test_an_app_of_63_characters_makes_a_legal_index_name() -> None:
    app = "A" + "b_" * 30 + "CD"
    assert len(app) == 63
    index = Router(RoutingSettings()).route(_event(f"/data/logs/shop/{app}/p/log/a"), NOW)
    assert index == f"k8s-logs-shop_{app.lower()}-2026.11.25"
    assert LEGAL_INDEX.fullmatch(index) and len(index.encode()) < 255


@pytest.mark.parametrize(
    "path",
    [
        "/data/logs/shop/../p/log/a.log",
        "/data/logs/shop/_cart/p/log/a.log",
        "/data/logs/shop/cart_/p/log/a.log",
        "/data/logs/Shop/cart/p/log/a.log",
        "/data/logs/shop/" + "a" * 64 + "/p/log/a.log",
    ],
)
def test_names_that_are_still_refused_go_to_unmatched(path: str) -> None:
    router = Router(RoutingSettings())
    assert router.route(_event(path), NOW) == "k8s-logs-unmatched-2026.11.25"
    assert router.take_counters() == (1, 0, 0)


def test_the_path_caches_are_bounded_by_bytes_not_only_by_entries() -> None:
    """A 1 MB path x 65,536 entries used to be kept: 64 GB. Now a path above PATH_MAX is never
    cached and the caches start over past their character budget."""
    router = Router(RoutingSettings())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(64):  # 64 MB of paths, each 1 MB
            path = f"/data/logs/shop/cart/cart-{n}/log/" + "a" * 1_000_000
            router.route(_event(path), NOW)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4_000_000, f"{held} bytes still held by the caches"
    # Paths of PATH_MAX and below are cached, within the budget of characters.
    cache = PathCache(max_entries=1000, max_chars=10_000)
    for n in range(100):
        cache.put(f"/p/{n:04d}/" + "b" * (MAX_CACHED_PATH - 8), n)
        assert cache.chars <= 10_000
        assert len(cache.entries) <= 2
    cache.put("/p/" + "c" * MAX_CACHED_PATH, "too long")
    assert all(len(path) <= MAX_CACHED_PATH for path in cache.entries)
