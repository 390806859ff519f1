"""Structured lines (indexer/structured.py): the exact documents, key order included (orjson
keeps a dict's insertion order), for the cases the mapping's fast paths single out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from indexer.route import Router
from indexer.settings import RoutingSettings
from tests.unit.test_structured import FILEBEAT, NOW, PATH, routed

ROUTED = {
    "kubernetes": {"namespace": "shop", "pod": {"name": "cart-0"}},
    "service": {"name": "cart"},
}
FILE = {"path": PATH}


def document(line: str, **shipper: Any) -> bytes:
    event: dict[str, Any] = {
        "@timestamp": FILEBEAT,
        "message": line,
        "log": {"offset": 7, "file": FILE},
    }
    event.update(shipper)
    Router(RoutingSettings()).route(event, NOW)
    return orjson.dumps(event)


def test_a_zap_line_exactly() -> None:
    line = (
        '{"level":"warn","ts":"2026-12-01T05:16:04.678Z","caller":"db/query.go:77",'
        '"msg":"slow query","duration_ms":801,"table":"orders","rows":6468}'
    )
    assert document(line) == orjson.dumps(
        {
            "@timestamp": "2026-12-01T05:16:04.678Z",
            "message": "slow query",
            "log": {
                "offset": 7,
                "file": FILE,
                "level": "warn",
                "origin": {"file": {"name": "db/query.go", "line": 77}},
            },
            "json": {"duration_ms": 801, "table": "orders", "rows": 6468},
            **ROUTED,
        }
    )


def test_mapped_keys_are_applied_in_the_line_s_order() -> None:
    _, event = routed('{"caller":"db/q.go:7","level":"info"}')
    assert list(event["log"]) == ["offset", "file", "origin", "level"]
    _, event = routed('{"span_id":"s","error.stack_trace":"st","trace_id":"t","err":"e"}')
    assert list(event) == ["@timestamp", "message", "log", "span", "error", "trace", *ROUTED]
    assert list(event["error"]) == ["stack_trace", "message"]
    # without a `log` object, the logger's creates it for the level that follows
    bare: dict[str, Any] = {"message": '{"logger":"c.e.A","level":"info"}'}
    Router(RoutingSettings()).route(bare, NOW)
    assert bare["log"] == {"logger": "c.e.A", "level": "info"}


@pytest.mark.parametrize(
    "caller",
    ["main.go", "main.go:", ":12", "main.go:12a", "main.go: 12", "main.go:²", "a.go:" + "9" * 5000],
)
def test_a_caller_without_a_line_number_stays_under_json(caller: str) -> None:
    line = orjson.dumps({"caller": caller, "msg": "x", "level": "info"}).decode()
    assert document(line) == orjson.dumps(
        {
            "@timestamp": FILEBEAT,
            "message": "x",
            "log": {"offset": 7, "file": FILE, "level": "info"},
            "json": {"caller": caller},
            **ROUTED,
        }
    )


def test_a_caller_with_colons_in_its_file_name_splits_at_the_last() -> None:
    _, event = routed('{"caller":"C:/src/a.go:9","msg":"x"}')
    assert event["log"]["origin"] == {"file": {"name": "C:/src/a.go", "line": 9}}


@pytest.mark.parametrize(
    ("origin", "after", "rest"),
    [
        ({"file": {"name": "ship.go", "line": 1}}, {"file": {"name": "ship.go", "line": 1}}, True),
        ({"function": "f"}, {"function": "f", "file": {"name": "q.go", "line": 7}}, False),
        ({"file": {"line": 1}}, {"file": {"line": 1, "name": "q.go"}}, False),  # its line stays
        ("text", "text", True),
    ],
)
def test_the_shipper_s_log_origin_is_kept(origin: Any, after: Any, rest: bool) -> None:
    line = '{"caller":"q.go:7","msg":"x"}'
    event = orjson.loads(document(line, log={"offset": 7, "file": FILE, "origin": origin}))
    assert event["log"] == {"offset": 7, "file": FILE, "origin": after}
    assert ("json" in event) is rest
    if rest:
        assert event["json"] == {"caller": "q.go:7"}


def test_the_first_key_of_a_target_decides_even_when_it_is_unusable() -> None:
    line = '{"msg":"","message":"b","level":"info","lvl":"debug","severity":"error","ts":1}'
    assert document(line) == orjson.dumps(
        {
            "@timestamp": FILEBEAT,
            "message": line,
            "log": {"offset": 7, "file": FILE, "level": "info"},
            "json": {"msg": "", "message": "b", "lvl": "debug", "severity": "error", "ts": 1},
            **ROUTED,
        }
    )


def test_the_first_usable_time_key_decides_and_the_others_stay() -> None:
    line = '{"time":"2026-12-01T10:00:01.000Z","ts":"2026-12-01T10:00:00.000Z","msg":"x"}'
    event = orjson.loads(document(line))
    assert event["@timestamp"] == "2026-12-01T10:00:01.000Z"
    assert event["json"] == {"ts": "2026-12-01T10:00:00.000Z"}


def test_a_logfmt_line_without_quotes_exactly() -> None:
    line = "level=warn msg=slow_query rows=12 took=3s a.b=c _k=v @x= "
    assert document(line) == orjson.dumps(
        {
            "@timestamp": FILEBEAT,
            "message": "slow_query",
            "log": {"offset": 7, "file": FILE, "level": "warn"},
            "json": {"rows": "12", "took": "3s", "a.b": "c", "_k": "v", "@x": ""},
            **ROUTED,
        }
    )


def test_a_logfmt_line_with_quoted_values_exactly() -> None:
    line = (
        'time="2026-12-01T10:17:25.678Z" level=info msg="reconciled" empty="" spaced="a  b c" '
        'escaped="x\\"y\\\\" inner="a"b" eq="k=v" name=app-17812'
    )
    assert document(line) == orjson.dumps(
        {
            "@timestamp": "2026-12-01T10:17:25.678Z",
            "message": "reconciled",
            "log": {"offset": 7, "file": FILE, "level": "info"},
            "json": {
                "empty": "",
                "spaced": "a  b c",
                "escaped": 'x"y\\',
                "inner": 'a"b',
                "eq": "k=v",
                "name": "app-17812",
            },
            **ROUTED,
        }
    )


def test_a_logfmt_line_with_a_repeated_key_stays_whole_with_its_level() -> None:
    # Mapped, one of the two values would be lost (nothing is silently dropped).
    line = "msg=first level=warn msg=second lvl=debug"
    event = orjson.loads(document(line))
    assert (event["message"], event["log"]["level"]) == (line, "warn")
    assert "json" not in event


@pytest.mark.parametrize(
    "line",
    [
        "1k=v msg=x",
        "msg=x  level=info",  # two spaces
        'msg="never closed level=info',
        'msg=a"b',
        "msg=a=b",
        "msg=x =y",
        'k"ey=1 msg=x',
        'msg="x"y level=info',
        "msg=x word",
    ],
)
def test_a_line_that_is_not_logfmt_stays_as_it_is(line: str) -> None:
    event = orjson.loads(document(line))
    assert event["message"] == line
    assert "json" not in event


def test_the_shipper_s_json_object_gets_only_new_keys() -> None:
    line = '{"msg":"x","table":"orders","rows":1}'
    event = orjson.loads(document(line, json={"rows": 5}))
    assert list(event["json"].items()) == [("rows", 5), ("table", "orders")]
