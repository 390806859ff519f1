"""End to end, on the real broker and ES-API server (one bed): a JSON line, a logfmt line and a
classic line each come out with their own `log.level`; the JSON line's message and time are its
own (and its day is that time's); an app key named `kubernetes` or `@timestamp` cannot change
ours; an unparsable line is stored unchanged. Stored documents are checked by content."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents,
    ends_of,
    indexer_env,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

READ = days_ago(1) + timedelta(hours=10)  # when filebeat read the lines
OWN = READ - timedelta(hours=11)  # the JSON line's own time: the day before


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _event(offset: int, message: str) -> bytes:
    return json.dumps(
        {
            "@timestamp": _iso(READ),
            "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.11.0"},
            "message": message,
            "log": {"offset": offset, "file": {"path": "/data/logs/shop/cart/cart-0/log/app.log"}},
            "host": {"name": "node-1"},
        }
    ).encode()


JSON_LINE = json.dumps(
    {
        "level": "error",
        "msg": "db timeout",
        "ts": _iso(OWN),
        "kubernetes": {"namespace": "bank", "pod": {"name": "evil"}},
        "@timestamp": "1999-01-01T00:00:00.000Z",
        "table": "orders",
    }
)
LOGFMT_LINE = f'time={_iso(READ - timedelta(seconds=5))} level=warn msg="slow query" rows=12'
CLASSIC_LINE = (
    READ.strftime("%Y-%m-%d %H:%M:%S.123") + " ERROR [exec-4] c.e.OrderService - order 17 failed"
)
UNPARSABLE = '{"level":"error","msg":"cut off in the midd'
# log4j's short date (two-digit year), logcat (no year: the Kafka time's), Apache httpd's
# `[notice]` with a level word later in its text, a JSON line with a key twice (stays whole)
SHORT_DATE = READ.strftime("%y/%m/%d %H:%M:%S") + " WARN storage.BlockManager: Putting block"
LOGCAT = READ.strftime("%m-%d %H:%M:%S.250") + "  1702  2395 W ActivityManager: Slow operation"
APACHE = READ.strftime("[%a %b %d %H:%M:%S %Y]") + " [notice] mod_jk child in error state 6"
REPEATED = '{"level":"info","msg":"login","user":"a","user":"b"}'
LINES = [JSON_LINE, LOGFMT_LINE, CLASSIC_LINE, UNPARSABLE, SHORT_DATE, LOGCAT, APACHE, REPEATED]


def test_structured_lines_are_stored_with_their_own_level_message_and_time(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-structured", 1)
    values = [_event(n * 100, line) for n, line in enumerate(LINES)]
    produced = produce(bootstrap, "filebeat-structured", values)
    indexer = IndexerProcess(indexer_env(bootstrap, es_proxy.url), tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(LINES), 60, "every line stored")
    wait_for(lambda: committed_offsets(bootstrap) == ends_of(produced), 30, "offsets committed")
    assert indexer.stop() == 0
    assert count(es_proxy.url, DEADLETTERS) == 0

    stored: dict[int, tuple[str, dict[str, Any]]] = {
        source["log"]["offset"]: (index, source)
        for index, source in documents(es_proxy.url).values()
    }
    assert sorted(stored) == [0, 100, 200, 300, 400, 500, 600, 700]
    day = READ.strftime("%Y.%m.%d")

    index, doc = stored[0]
    assert doc["log"]["level"] == "error"
    assert doc["message"] == "db timeout"
    assert doc["@timestamp"] == _iso(OWN)
    assert index == f"k8s-logs-shop_cart-{OWN.strftime('%Y.%m.%d')}"  # its own time's day
    assert doc["kubernetes"] == {"namespace": "shop", "pod": {"name": "cart-0"}}
    assert doc["service"] == {"name": "cart"}
    assert doc["json"]["kubernetes"] == {"namespace": "bank", "pod": {"name": "evil"}}
    assert doc["json"]["@timestamp"] == "1999-01-01T00:00:00.000Z"
    assert doc["json"]["table"] == "orders"

    index, doc = stored[100]
    assert (index, doc["log"]["level"], doc["message"]) == (
        f"k8s-logs-shop_cart-{day}",
        "warn",
        "slow query",
    )
    assert doc["@timestamp"] == _iso(READ - timedelta(seconds=5))
    assert doc["json"] == {"rows": "12"}

    index, doc = stored[200]
    assert doc["log"]["level"] == "error"
    assert doc["message"] == CLASSIC_LINE
    assert doc["@timestamp"] == READ.strftime("%Y-%m-%dT%H:%M:%S.123Z")

    index, doc = stored[300]
    assert doc["message"] == UNPARSABLE
    assert doc["@timestamp"] == _iso(READ)
    assert "level" not in doc["log"] and "json" not in doc

    for offset, line, level, stamp in (
        (400, SHORT_DATE, "warn", READ.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        (500, LOGCAT, "warn", READ.strftime("%Y-%m-%dT%H:%M:%S.250Z")),
        (600, APACHE, "notice", READ.strftime("%Y-%m-%dT%H:%M:%S.000Z")),
        (700, REPEATED, "info", _iso(READ)),
    ):
        index, doc = stored[offset]
        assert (doc["message"], doc["log"]["level"], doc["@timestamp"]) == (line, level, stamp)
        assert index == f"k8s-logs-shop_cart-{stamp[:10].replace('-', '.')}"
        assert "json" not in doc
