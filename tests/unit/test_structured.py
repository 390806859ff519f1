"""Structured lines (indexer/structured.py), through the router that calls it."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from indexer.encode import ingested_field
from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings, SettingsError, load_settings
from indexer.transform import transform

# fixed on purpose: a pure call of the router with an explicit ingestion time
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
FILEBEAT = "2026-12-01T11:59:59.500Z"  # when filebeat read the line
PATH = "/data/logs/shop/cart/cart-0/log/app.log"


def routed(
    message: str, router: Router | None = None, **parsing: Any
) -> tuple[str, dict[str, Any]]:
    event = {
        "@timestamp": FILEBEAT,
        "message": message,
        "log": {"offset": 7, "file": {"path": PATH}},
    }
    router = router or Router(RoutingSettings(), ParsingSettings(**parsing))
    return router.route(event, NOW), event


def test_a_json_line_gives_its_level_message_and_time_and_keeps_its_other_keys_under_json() -> None:
    line = '{"level":"error","msg":"db timeout","ts":"2026-12-01T10:00:00.123Z","table":"orders"}'
    _, event = routed(line)
    assert event["log"]["level"] == "error"
    assert event["message"] == "db timeout"
    assert event["@timestamp"] == "2026-12-01T10:00:00.123Z"
    assert event["json"] == {"table": "orders"}
    assert event["log"]["file"]["path"] == PATH  # filebeat's log.* stays


def test_a_logfmt_line_gives_its_level_message_and_time() -> None:
    line = 'time=2026-12-01T10:00:00Z level=warn msg="slow query" took="3 s" path="/a\\"b"'
    _, event = routed(line)
    assert event["log"]["level"] == "warn"
    assert event["message"] == "slow query"
    assert event["@timestamp"] == "2026-12-01T10:00:00.000Z"
    assert event["json"] == {"took": "3 s", "path": '/a"b'}


@pytest.mark.parametrize(
    ("line", "level", "stamp"),
    [
        (
            "2026-12-01 10:00:00.123 ERROR [exec-4] c.e.OrderService - order 17 failed",
            "error",
            "2026-12-01T10:00:00.123Z",
        ),
        ("2026-12-01T10:00:00.5+01:00 INFO  [main] started", "info", "2026-12-01T09:00:00.500Z"),
        (
            "2026-12-01 10:00:00,250 [pool-1] WARN c.e.Cache - evicted",
            "warn",
            "2026-12-01T10:00:00.250Z",
        ),
        ("2026-12-01 10:00:00 [ERROR] broken", "error", "2026-12-01T10:00:00.000Z"),
        ("2026/12/01 10:00:00 [error] 12#0: *3 open() failed", "error", "2026-12-01T10:00:00.000Z"),
        ("10:00:00.123 [main] DEBUG c.e.App - tick", "debug", FILEBEAT),  # no date: no time
        ("[WARNING] disk almost full", "warning", FILEBEAT),
        ("ERROR:root:something failed", "error", FILEBEAT),
        # klog has no year: the Kafka time's (README, "Structured lines")
        (
            "E1201 10:00:00.123456       1 main.go:42] watch failed",
            "error",
            "2026-12-01T10:00:00.123Z",
        ),
        ("I1201 10:00:00.123456       1 main.go:42] synced", "info", "2026-12-01T10:00:00.123Z"),
        ("something happened level=notice here", "notice", FILEBEAT),
    ],
)
def test_a_plain_line_gives_its_level_and_leading_time_and_stays_the_message(
    line: str, level: str, stamp: str
) -> None:
    _, event = routed(line)
    assert event["log"]["level"] == level
    assert event["@timestamp"] == stamp
    assert event["message"] == line
    assert "json" not in event


@pytest.mark.parametrize(
    "line",
    [
        '10.42.0.1 - - [01/Dec/2026:10:00:00 +0000] "GET /?a=b HTTP/1.1" 200 12',
        "Error connecting to the database",  # a sentence, not a layout
        '{"level": "error", "msg": "cut off',  # looks like JSON, is not
        '["an", "array"]',
        "a=1 and then some words",
        'msg="opened and never closed',
        "",
        "   ",
        "{}",
    ],
)
def test_a_line_without_structure_is_indexed_unchanged(line: str) -> None:
    _, event = routed(line)
    assert event == {
        "@timestamp": FILEBEAT,
        "message": line,
        "log": {"offset": 7, "file": {"path": PATH}},
        "kubernetes": event["kubernetes"],
        "service": event["service"],
    }


def test_the_s6_log_prefix_is_the_time_of_a_line_that_has_none_and_is_set_aside() -> None:
    _, event = routed('2026-12-01 10:00:00.123456789  {"level":"info","msg":"tick"}')
    assert (event["message"], event["log"]["level"]) == ("tick", "info")
    assert event["@timestamp"] == "2026-12-01T10:00:00.123Z"
    own = '2026-12-01 10:00:00.123456789  {"msg":"x","ts":"2026-12-01T09:59:59.000Z"}'
    assert routed(own)[1]["@timestamp"] == "2026-12-01T09:59:59.000Z"
    _, plain = routed("2026-12-01 10:00:00.123456789  ERROR boom")
    assert plain["log"]["level"] == "error"
    assert plain["@timestamp"] == "2026-12-01T10:00:00.123Z"
    assert plain["message"] == "2026-12-01 10:00:00.123456789  ERROR boom"


def test_a_naive_time_is_read_in_the_configured_zone() -> None:
    _, event = routed("2026-12-01 11:00:00.000 INFO x", naive_time_zone="Europe/Paris")
    assert event["@timestamp"] == "2026-12-01T10:00:00.000Z"


def test_the_ecs_mapping_of_common_keys() -> None:
    line = json.dumps(
        {
            "@timestamp": "2026-12-01T10:00:00.000Z",
            "log.level": "WARN",
            "message": "m",
            "log.logger": "c.e.Orders",
            "error.type": "java.io.IOException",
            "error.message": "broken pipe",
            "error.stack_trace": "java.io.IOException: broken pipe\n\tat x",
            "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "thread_name": "main",
            "caller": "db/query.go:42",
        }
    )
    _, event = routed(line)
    assert event["log"]["level"] == "warn"
    assert event["log"]["logger"] == "c.e.Orders"
    assert event["log"]["origin"] == {"file": {"name": "db/query.go", "line": 42}}
    assert event["error"] == {
        "type": "java.io.IOException",
        "message": "broken pipe",
        "stack_trace": "java.io.IOException: broken pipe\n\tat x",
    }
    assert event["trace"] == {"id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert event["span"] == {"id": "00f067aa0ba902b7"}
    assert event["process"] == {"thread": {"name": "main"}}
    assert "json" not in event


def test_numeric_pino_levels_and_epoch_times_are_read() -> None:
    millis = int(datetime(2026, 12, 1, 10, 0, tzinfo=UTC).timestamp() * 1000) + 250
    _, event = routed(json.dumps({"level": 50, "time": millis, "msg": "x"}))
    assert event["log"]["level"] == "error"
    assert event["@timestamp"] == "2026-12-01T10:00:00.250Z"
    _, zap = routed(json.dumps({"level": "info", "ts": millis / 1000, "msg": "x"}))
    assert zap["@timestamp"] == "2026-12-01T10:00:00.250Z"


def test_app_keys_can_never_change_our_fields() -> None:
    line = json.dumps(
        {
            "msg": "mine",
            "kubernetes": {"namespace": "other"},
            "service": "evil",
            "service.name": "evil",
            "data_stream": {"namespace": "x"},
            "event": {"dataset": "x"},
            "kafka": {"offset": 1},
            "log": {"file": {"path": "/elsewhere"}},
            "json": "shadow",
        }
    )
    index, event = routed(line)
    assert index == "k8s-logs-shop_cart-2026.12.01"
    assert event["kubernetes"]["namespace"] == "shop"
    assert event["service"] == {"name": "cart"}
    assert event["log"] == {"offset": 7, "file": {"path": PATH}}
    assert "data_stream" not in event and "event" not in event and "kafka" not in event
    assert event["json"]["kubernetes"] == {"namespace": "other"}
    assert event["json"]["json"] == "shadow"


def test_a_second_timestamp_key_cannot_replace_the_first_nor_ours() -> None:
    line = '{"msg":"x","ts":"2026-12-01T10:00:00.000Z","@timestamp":"1999-01-01T00:00:00Z"}'
    _, event = routed(line)
    assert event["@timestamp"] == "2026-12-01T10:00:00.000Z"
    assert event["json"] == {"@timestamp": "1999-01-01T00:00:00Z"}


def test_a_time_out_of_the_routing_bounds_is_ignored_and_kept_under_json() -> None:
    for stamp in ("2026-11-01T10:00:00.000Z", "2026-12-03T10:00:00.000Z", "2026-13-01T10:00:00Z"):
        index, event = routed(json.dumps({"msg": "x", "ts": stamp}))
        assert event["@timestamp"] == FILEBEAT
        assert index == "k8s-logs-shop_cart-2026.12.01"
        assert event["json"] == {"ts": stamp}
    _, plain = routed("2026-11-01 10:00:00.000 ERROR old")
    assert plain["@timestamp"] == FILEBEAT and plain["log"]["level"] == "error"


def test_the_line_s_own_time_picks_the_day() -> None:
    index, _ = routed('{"msg":"x","ts":"2026-11-30T23:59:59.000Z"}')
    assert index == "k8s-logs-shop_cart-2026.11.30"


def test_the_shipper_s_fields_win_over_the_line_s() -> None:
    event: dict[str, Any] = {
        "@timestamp": FILEBEAT,
        "message": '{"level":"debug","msg":"x","error":"e"}',
        "log": {"offset": 7, "level": "info", "file": {"path": PATH}},
        "error": {"message": "from filebeat"},
    }
    Router(RoutingSettings()).route(event, NOW)
    assert event["log"]["level"] == "info"
    assert event["error"] == {"message": "from filebeat"}
    assert event["json"] == {"level": "debug", "error": "e"}


def test_bounds_leave_long_wide_and_deep_lines_unparsed() -> None:
    long_line = '{"level":"error","msg":"' + "x" * 100 + '"}'
    assert routed(long_line, max_line_chars=50)[1]["message"] == long_line
    wide = json.dumps({f"k{n}": n for n in range(11)} | {"msg": "x"})
    assert routed(wide, max_keys=10)[1]["message"] == wide
    logfmt = " ".join(f"k{n}=v" for n in range(11)) + " msg=x"
    assert routed(logfmt, max_keys=10)[1]["message"] == logfmt
    deep = '{"msg":"x","a":' + '{"b":' * 5 + "1" + "}" * 5 + "}"
    assert routed(deep, max_depth=5)[1]["message"] == deep
    assert routed(deep, max_depth=6)[1]["message"] == "x"
    braces = json.dumps({"msg": "x", "text": "{{{{{{{{[[[[[["})  # braces in strings are not depth
    assert routed(braces, max_depth=2)[1]["message"] == "x"


def test_the_original_line_is_kept_only_when_asked() -> None:
    line = '{"level":"info","msg":"x"}'
    assert "event" not in routed(line)[1]
    assert routed(line, keep_original=True)[1]["event"] == {"original": line}


def test_parsing_is_off_globally_or_for_a_namespace_or_an_app() -> None:
    line = '{"level":"info","msg":"x"}'
    assert routed(line)[1]["message"] == "x"
    assert routed(line, enabled=False)[1]["message"] == line
    assert routed(line, disabled_for=["shop"])[1]["message"] == line
    assert routed(line, disabled_for=["shop/Cart"])[1]["message"] == line
    assert routed(line, disabled_for=["shop/api", "other"])[1]["message"] == "x"


def test_parsing_settings_refuse_our_fields_and_bad_names() -> None:
    with pytest.raises(SettingsError, match=r"parsing\.field"):
        load_settings(parsing={"field": "kubernetes"})
    with pytest.raises(SettingsError, match=r"parsing\.disabled_for"):
        load_settings(parsing={"disabled_for": ["Shop_1"]})
    with pytest.raises(SettingsError, match=r"parsing\.naive_time_zone"):
        load_settings(parsing={"naive_time_zone": "Mars/Olympus"})
    assert load_settings(parsing={"field": "app"}).parsing.field == "app"


def test_another_field_name_holds_the_rest() -> None:
    _, event = routed('{"msg":"x","user":"u1"}', field="app")
    assert event["app"] == {"user": "u1"} and "json" not in event


def test_the_document_id_is_that_of_the_message_as_received() -> None:
    value = orjson.dumps(
        {
            "@timestamp": FILEBEAT,
            "message": '{"level":"info","msg":"x","ts":"2026-12-01T10:00:00.000Z"}',
            "log": {"offset": 7, "file": {"path": PATH}},
            "host": {"name": "node-1"},
        }
    )
    ingested = ingested_field(NOW)  # one stamp for all three, as a batch has
    parsed = transform(Router(RoutingSettings()), value, "t", 0, 1, NOW, ingested)
    plain = transform(
        Router(RoutingSettings(), ParsingSettings(enabled=False)), value, "t", 0, 1, NOW, ingested
    )
    assert parsed[0] == plain[0] == "k8s-logs-shop_cart-2026.12.01"
    assert parsed[1].split(b"\n")[0] == plain[1].split(b"\n")[0]  # same action line, same _id
    assert orjson.loads(parsed[1].split(b"\n")[1])["message"] == "x"
    # and again: a re-delivery is the same document (event.ingested was the clock's: now fixed)
    assert transform(Router(RoutingSettings()), value, "t", 0, 1, NOW, ingested) == parsed


_PIECES = [
    "{", "}", "[", "]", '"', "\\", "=", " ", "level", "msg", "ts", ":", ",", "ERROR", "[INFO]",
    "2026-12-01", "10:00:00", ".123456789", "T", "Z", "+01:00", "\u00e9", "\x00", "1e999",
    "null", "true", "-", "/", "E1201", "\t", "\n", "time=", '"q\\"', "9" * 30,
]  # fmt: skip


def test_random_lines_never_raise_nor_break_encoding() -> None:
    rng = random.Random(14)
    router = Router(RoutingSettings(), ParsingSettings(max_depth=4, max_keys=8))
    for n in range(20_000):
        line = "".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 30)))
        if n % 3 == 0:
            line = json.dumps({rng.choice(["msg", "level", "ts", "x"]): line, "level": line[:5]})
        event: dict[str, Any] = {
            "@timestamp": FILEBEAT,
            "message": line,
            "log": {"offset": n, "file": {"path": PATH}},
        }
        index = router.route(event, NOW)
        assert index.startswith("k8s-logs-shop_cart-")
        assert isinstance(event["message"], str)
        orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)
        level = event["log"].get("level")
        assert level is None or (isinstance(level, str) and level == level.lower())


def test_a_json_or_logfmt_level_is_kept_in_an_event_without_log_as_a_plain_lines_is() -> None:
    # It used to stay under `json` unless a `caller` key had made `log` first, in an order that
    # came from a set's iteration, so from PYTHONHASHSEED: two replicas wrote two documents.
    router = Router(RoutingSettings(), ParsingSettings())
    for line in ('{"level":"warn","msg":"x","caller":"a.go:3"}', "level=warn msg=x caller=a.go:3"):
        event = {"@timestamp": FILEBEAT, "message": line}
        router.route(event, NOW)
        assert event["log"] == {"level": "warn", "origin": {"file": {"name": "a.go", "line": 3}}}
        assert "json" not in event
    plain = {"@timestamp": FILEBEAT, "message": "2026-12-01T11:59:00.000Z WARN x"}
    router.route(plain, NOW)
    assert plain["log"] == {"level": "warn"}


def test_documents_do_not_depend_on_the_processs_hash_seed() -> None:
    # Set iteration order changes with PYTHONHASHSEED; what the mapping adds, and in which
    # order, must not (two replicas, or a restart, must write the same document).
    script = (
        "import orjson, sys\n"
        "from indexer.route import Router\n"
        "from indexer.settings import ParsingSettings, RoutingSettings\n"
        "r = Router(RoutingSettings(), ParsingSettings())\n"
        "out = []\n"
        "for line in sys.argv[1:]:\n"
        "    e = {'@timestamp': '2026-12-01T11:59:59.500Z', 'message': line}\n"
        "    r.route(e, 1764590400.0)\n"
        "    out.append(e)\n"
        "sys.stdout.buffer.write(orjson.dumps(out))\n"
    )
    lines = [
        '{"level":"error","caller":"a.go:1","error":"boom","stack":"s","trace_id":"t",'
        '"span_id":"p","logger":"l","thread":"main","msg":"m","k":1}',
        "level=warn caller=b.go:2 err=bad stacktrace=s traceId=t spanId=p logger=l msg=m k=v",
        '{"caller":"c.go:3","lvl":"info","severity":"debug","error.type":"E","exception":"x"}',
    ]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, *lines],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(outputs) == 1
