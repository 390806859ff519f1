"""Structured lines (indexer/structured.py): the level and time of the plain layouts the README
lists, the rules for times without a year, a zone or a four-digit year, the free-text traps, a
JSON line with a key twice, and logfmt's quoted values (the same pairs as the quadratic reader
that came before)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings
from indexer.structured import _pairs
from tests.unit.test_structured import FILEBEAT, PATH, routed

SAMPLE = Path(__file__).parents[1] / "data" / "structured_levels.tsv"


def _sample() -> list[tuple[str, str, str]]:
    rows = []
    for text in SAMPLE.read_text(encoding="utf-8").splitlines():
        if text and not text.startswith("#"):
            layout, level, line = text.split("\t", 2)
            rows.append((layout, level, line))
    return rows


def test_the_shipped_sample_has_no_wrong_level_and_every_layout_agrees() -> None:
    router = Router(RoutingSettings(), ParsingSettings())
    per_layout: dict[str, list[int]] = {}
    wrong = []
    for layout, level, line in _sample():
        _, event = routed(line, router)
        assert event["message"] == line  # nothing altered
        assert "json" not in event
        read = event["log"].get("level", "-")
        counts = per_layout.setdefault(layout, [0, 0])
        counts[0] += 1
        counts[1] += read == level
        if read not in (level, "-"):
            wrong.append((line, read))
    assert wrong == []
    assert len(per_layout) >= 30
    for layout, (lines, agree) in per_layout.items():
        assert agree / lines >= 0.95, layout


@pytest.mark.parametrize(
    ("line", "level", "stamp"),
    [
        # log4j `yy/MM/dd HH:mm:ss` (Spark): a two-digit year is 20yy
        ("26/12/01 10:10:40 INFO executor.Executor: done", "info", "2026-12-01T10:10:40.000Z"),
        # `yyMMdd HHmmss pid LEVEL` (HDFS)
        ("261201 101043 2561 WARN dfs.DataNode: x", "warn", "2026-12-01T10:10:43.000Z"),
        ("2026-12-01 10:44:28,903 - ERROR [main:X@1] - x", "error", "2026-12-01T10:44:28.903Z"),
        ("2026-12-01 10:00:00.008 25746 INFO nova.x [req-1] y", "info", "2026-12-01T10:00:00.008Z"),
        ("2026-12-01 04:30:30, Info         CBS    Loaded", "info", "2026-12-01T04:30:30.000Z"),
        ("2026-12-01 10:00:00,5 - shop - WARNING - slow", "warning", "2026-12-01T10:00:00.500Z"),
        ("2026-12-01 10:00:00.1234|ERROR|Shop|x", "error", "2026-12-01T10:00:00.123Z"),
        ("2026-12-01 10:00:00.123 +01:00 [WRN] slow", "wrn", "2026-12-01T09:00:00.123Z"),
        ("2026-12-01T10:00:00.123Z\tINFO\tmain.go:1\tx", "info", "2026-12-01T10:00:00.123Z"),
        ("01-Dec-2026 10:00:00.123 SEVERE [main] x", "severe", "2026-12-01T10:00:00.123Z"),
        (
            "[Tue Dec 01 10:00:00 2026] [error] [client 1.2.3.4] x",
            "error",
            "2026-12-01T10:00:00.000Z",
        ),
        (
            "[Tue Dec 01 10:00:00.902022 2026] [core:crit] [pid 1] x",
            "crit",
            "2026-12-01T10:00:00.902Z",
        ),
        ("[2026-12-01 10:00:00 +0000] [42] [INFO] Booting", "info", "2026-12-01T10:00:00.000Z"),
        ("[2026-12-01 10:00:00.123 +0100] WARN (42 on h): x", "warn", "2026-12-01T09:00:00.123Z"),
        ("I, [2026-12-01T10:00:00.123456 #42]  INFO -- : x", "info", "2026-12-01T10:00:00.123Z"),
        ("A, [2026-12-01T10:00:00.123456 #42]   ANY -- : x", "any", "2026-12-01T10:00:00.123Z"),
        ("<165>1 2026-12-01T10:00:05.003Z h app - - - x", "notice", "2026-12-01T10:00:05.003Z"),
        # no year (logcat, klog, syslog): the Kafka time's year
        ("12-01 10:13:38.811  1702  2395 D WindowManager: x", "debug", "2026-12-01T10:13:38.811Z"),
        ("12-01 10:13:38.811 E/AndroidRuntime( 1702): x", "error", "2026-12-01T10:13:38.811Z"),
        ("F1201 10:00:00.000001 1 main.go:1] x", "fatal", "2026-12-01T10:00:00.000Z"),
        ("Dec  1 10:00:00 h NetworkManager[8]: <warn>  x", "warn", "2026-12-01T10:00:00.000Z"),
        ("<131>Dec  1 10:00:00 h app[1]: x", "err", "2026-12-01T10:00:00.000Z"),
        # no date at all: the time of day is not placed
        ("[10:00:00 ERR] x", "err", FILEBEAT),
        ("[10:00:00.123] FATAL (42): x", "fatal", FILEBEAT),
        ("D/WindowManager( 1702): relayout", "debug", FILEBEAT),
        ("crit: Microsoft.AspNetCore[1]", "crit", FILEBEAT),
        ("trce: Microsoft.AspNetCore[1]", "trace", FILEBEAT),
        ("warn: disk almost full", "warn", FILEBEAT),
    ],
)
def test_each_layout_gives_its_level_and_time(line: str, level: str, stamp: str) -> None:
    _, event = routed(line)
    assert (event["log"].get("level"), event["@timestamp"]) == (level, stamp)
    assert event["message"] == line


@pytest.mark.parametrize(
    "line",
    [
        # a level word later in the line
        "2026-12-01 10:00:00 Connection error in error state 6",
        "2026-12-01 10:00:00 404 error page served",  # after a number, only an upper-case word
        "2026-12-01 10:00:00,1 - shop - error - x",  # after a logger name, likewise
        "Connection reset in error state 6",
        "Dec  1 10:00:02 node-1 logrotate: ALERT exited abnormally with [1]",
        "Dec  1 10:00:02 node-1 sshd[1]: error: could not load host key",
        "12:00:00 the job failed with ERROR 5",
        # a word that only looks like a level, or a level word where no layout puts one
        "2026-12-01 10:00:00 INFOrmix started",
        "2026-12-01 10:00:00 [main] Errors: 3",
        "Error connecting to the database",
        "http: TLS handshake error from 10.0.0.7:51234: EOF",
        "note: error handling changed",
        "2026-12-01 10:00:00.123  1702  2395 D WindowManager: not logcat's time",
        "2026-12-01 04:30:33, Perf          CBS    load time",
        "<192>Dec  1 10:00:00 h app: priority out of range",
        "[10.30 16:49:06] chrome.exe - proxy open through proxy",
        '10.42.0.7 - - [01/Dec/2026:10:00:00 +0000] "GET /error HTTP/1.1" 500 12',
    ],
)
def test_free_text_never_gives_a_level(line: str) -> None:
    _, event = routed(line)
    assert "level" not in event["log"]
    assert event["message"] == line


def test_the_apache_line_of_the_issue_is_a_notice_not_an_error() -> None:
    line = "[Tue Dec 01 10:00:00 2026] [notice] mod_jk child workerEnv in error state 6"
    assert routed(line)[1]["log"]["level"] == "notice"


def test_every_syslog_severity_and_code_table_is_spelled_out() -> None:
    names = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
    for severity, name in enumerate(names):
        line = f"<{8 + severity}>1 2026-12-01T10:00:00Z h app - - - x"
        assert routed(line)[1]["log"]["level"] == name
    logcat = {"V": "verbose", "D": "debug", "I": "info", "W": "warn", "E": "error", "F": "fatal"}
    for letter, name in (logcat | {"A": "assert"}).items():
        line = f"12-01 10:13:38.811  1702  2395 {letter} Tag: x"
        assert routed(line)[1]["log"]["level"] == name
    for letter, name in {"I": "info", "W": "warning", "E": "error", "F": "fatal"}.items():
        assert routed(f"{letter}1201 10:00:00.000001 1 a.go:1] x")[1]["log"]["level"] == name
    for code, name in {"trce": "trace", "dbug": "debug", "fail": "error", "info": "info"}.items():
        assert routed(f"{code}: Shop.Api[1]")[1]["log"]["level"] == name


def _at(when: datetime, line: str, **parsing: Any) -> str:
    event = {"@timestamp": FILEBEAT, "message": line, "log": {"file": {"path": PATH}}}
    Router(RoutingSettings(), ParsingSettings(**parsing)).route(event, when.timestamp())
    return str(event["@timestamp"])


def test_a_time_without_a_year_takes_the_year_that_puts_it_nearest_the_kafka_time() -> None:
    january = datetime(2027, 1, 1, 0, 5, tzinfo=UTC)
    # A December line read in January is of the year before
    assert _at(january, "Dec 31 23:59:59 h app[1]: <info> x") == "2026-12-31T23:59:59.000Z"
    assert _at(january, "12-31 23:59:59.500  1  2 I Tag: x") == "2026-12-31T23:59:59.500Z"
    # and a January line read on New Year's Eve (a clock ahead) of the year after
    eve = datetime(2026, 12, 31, 23, 55, tzinfo=UTC)
    assert _at(eve, "E0101 00:01:00.000000 1 a.go:1] x") == "2027-01-01T00:01:00.000Z"


def test_a_time_that_cannot_be_placed_is_ignored_never_moved_to_another_day() -> None:
    kafka = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for line in (
        "Nov 20 10:00:00 h app[1]: <info> x",  # 11 days back: beyond max_past
        "12-03 10:00:00.000  1  2 I Tag: x",  # 2 days ahead: beyond max_future
        "02-30 10:00:00.000  1  2 I Tag: x",  # no such day
        "12/01/26 10:00:00 INFO x: US order read year first is 2012: out of bounds",
        "991201 100000 12 INFO x: 2099",
    ):
        assert _at(kafka, line) == FILEBEAT, line


def test_a_time_without_a_zone_is_read_in_naive_time_zone() -> None:
    kafka = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    paris = {"naive_time_zone": "Europe/Paris"}
    assert _at(kafka, "26/12/01 11:00:00 INFO x: y", **paris) == "2026-12-01T10:00:00.000Z"
    assert _at(kafka, "Dec  1 11:00:00 h a[1]: <info> y", **paris) == "2026-12-01T10:00:00.000Z"
    assert _at(kafka, "I1201 11:00:00.000000 1 a.go:1] y", **paris) == "2026-12-01T10:00:00.000Z"
    # a zone in the line wins
    assert _at(kafka, "<11>1 2026-12-01T11:00:00+01:00 h a - - - y", **paris) == (
        "2026-12-01T10:00:00.000Z"
    )


def test_a_json_line_with_a_key_twice_stays_whole_with_its_unambiguous_level() -> None:
    line = '{"level":"info","msg":"login","user":"a","user":"b"}'  # zap's With, twice
    _, event = routed(line)
    assert event["message"] == line and "json" not in event
    assert event["log"]["level"] == "info"
    nested = '{"level":50,"msg":"x","req":{"id":1,"id":2}}'
    _, event = routed(nested)
    assert (event["message"], event["log"]["level"]) == (nested, "error")
    ambiguous = '{"level":"info","msg":"x","severity":"error"}'  # two level keys, no repeat
    assert routed(ambiguous)[1]["log"]["level"] == "info"  # mapped as before: the first
    twice = '{"level":"info","msg":"x","level":"error"}'
    _, event = routed(twice)
    assert event["message"] == twice and "level" not in event["log"]
    # the cheap count (as many `":` as keys) must not hide a repeat
    for hidden in ('{"level":"info","a" :1,"a":2}', '{"a":"x\\":","a":1,"level":"info"}'):
        _, event = routed(hidden)
        assert (event["message"], event["log"]["level"]) == (hidden, "info"), hidden


@pytest.mark.parametrize(
    "line",
    [
        '{"level":"info","msg":"a \\":\\" b","k":1}',  # `":` inside a string
        '{"level" : "info", "msg" : "spaced"}',
        '{"level":"info","msg":"x","a":{"b":{"c":1}},"d":[{"e":1},{"e":2}]}',
    ],
)
def test_json_lines_without_a_repeated_key_are_still_mapped(line: str) -> None:
    _, event = routed(line)
    assert event["message"] == json.loads(line)["msg"]
    assert event["log"]["level"] == "info"


def _pairs_before(line: str) -> dict[str, str] | None:
    """`_pairs` as it was (quadratic in the tokens of a quoted value): the specification."""
    from indexer.structured import _KEY_STARTS, _unquote

    def closed(value: str) -> bool:
        if len(value) < 2 or value[-1] != '"':
            return False
        return (len(value) - 1 - len(value[:-1].rstrip("\\"))) % 2 == 0

    fields: dict[str, str] = {}
    tokens = iter(line.split(" "))
    for token in tokens:
        key, equals, value = token.partition("=")
        if not equals or '"' in key or not (key[:1].isalpha() or key[:1] in _KEY_STARTS):
            return None
        if value[:1] == '"':
            if len(value) > 1 and value[-1] == '"' and "\\" not in value:
                value = value[1:-1]
            else:
                while not closed(value):
                    rest = next(tokens, None)
                    if rest is None:
                        return None
                    value = f"{value} {rest}"
                value = _unquote(value)
        elif '"' in value or "=" in value:
            return None
        if key in fields:
            return None
        fields[key] = value
    return fields


def test_logfmt_pairs_are_those_of_the_reader_before() -> None:
    rng = random.Random(25)
    pieces = ["k=", "msg=", '"', "\\", '\\"', " ", "a", "b c", "=", "\\\\", 'x="y z"', "é"]
    for _ in range(30_000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 14)))
        assert _pairs(line) == _pairs_before(line), line


def test_an_early_level_key_is_read_after_an_iso_time_too() -> None:
    _, event = routed("2026-12-01T10:00:00.000Z reconcile level=warn took 3 s")
    assert (event["log"]["level"], event["@timestamp"]) == ("warn", "2026-12-01T10:00:00.000Z")
