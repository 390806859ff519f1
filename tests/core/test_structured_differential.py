"""Structured lines through the native core against the Python reference, byte for byte.

With parsing on, every event the core takes must be the reference's (index, `_id`, dead-letter
decision, document), whatever its `message` is: JSON lines (keys, nesting, escapes, Unicode,
numbers, keys twice, every time key and epoch shape), logfmt lines (quotes, escaped quotes,
repeated keys), s6-log's prefix, plain lines, and the parsing settings (field, keep_original,
limits, disabled_for). `compare` (test_differential.py) asserts it over each read, and that the
core declines only for the reasons docs/native-core.md documents.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("indexer_core")

from bench.events import EventMaker
from indexer.settings import ParsingSettings
from tests.core.test_differential import MILLIS, _settings, compare, noisy

PATH = "/data/logs/shop/cart/cart-7d4b9c8f6-xbcdf/log/app.log"
OTHER_PATH = "/data/logs/edge/api/api-7d4b9c8f6-k2q7z/log/app.log"

# The keys `structured._TARGETS` maps, and some it does not.
TARGET_KEYS = [
    "level", "lvl", "severity", "levelname", "log.level", "loglevel", "@l", "msg", "message",
    "@m", "ts", "time", "timestamp", "@timestamp", "@t", "t", "datetime", "logger",
    "logger_name", "log.logger", "stacktrace", "stack_trace", "stack", "error.stack_trace",
    "exception", "@x", "error", "err", "error.message", "error.type", "error_type",
    "exception_class", "trace_id", "traceId", "trace.id", "traceid", "span_id", "spanId",
    "span.id", "spanid", "transaction.id", "transaction_id", "thread", "thread_name",
    "process.thread.name", "caller",
]  # fmt: skip
OTHER_KEYS = ["a", "n", "json", "kubernetes", "log", "é", "Level", 'k"q', "x y", "_u", "@v"]
KEYS = st.sampled_from(TARGET_KEYS) | st.sampled_from(OTHER_KEYS) | st.text(max_size=6)

# Times around the Kafka time (2026-11-26T12:00:00Z) in every shape a line may carry.
STAMP_TEXTS = st.sampled_from(
    [
        "2026-11-26T11:59:59.999Z", "2026-11-26T11:00:00.000Z", "2026-11-20T11:00:00.000Z",
        "2026-11-27T12:30:00.000Z", "2025-01-01T00:00:00.000Z", "2026-11-26T11:59:60.000Z",
        "2026-02-30T11:00:00.000Z", "0999-11-26T11:00:00.000Z", "0000-11-26T11:00:00.000Z",
        "2026-11-26T11:00:00Z", "2026-11-26 11:00:00.123", "2026-11-26T11:00:00.123456789Z",
        "2026-11-26T11:00:00+01:00", "2026-11-26T11:00:00.000z", "abcd-ef-ghTij:kl:00.xyzZ",
        "2026-11-26T1é:00:00.000Z", "", "now",
    ]
)  # fmt: skip
EPOCHS = st.one_of(
    st.sampled_from([1_795_694_000, 1_795_694_000_123, 1_795_694_000_123_456, 0, -1, 10**11]),
    st.integers(1_795_600_000, 1_795_700_000),
    st.integers(1_795_600_000_000, 1_795_700_000_000),
    st.integers(1_795_600_000_000_000, 1_795_700_000_000_000),
    st.integers(1_795_600_000_000_000_000, 1_795_700_000_000_000_000),
    st.integers(-(2**63), 2**63 - 1),
)
FLOAT_EPOCHS = st.one_of(
    st.floats(1_795_600_000, 1_795_700_000),
    st.floats(1_795_600_000_000, 1_795_700_000_000),
    st.sampled_from([1_795_694_000.1234567, 1e21, -1e21, -0.0, 0.5, -2.5, 1.5e11]),
)
TIMES = STAMP_TEXTS | EPOCHS | FLOAT_EPOCHS | st.sampled_from([True, None, [], {}])
LEVELS = st.one_of(
    st.sampled_from(["info", "WARN", "Error", "debug", "", "x" * 33, "İNFO", "wärn", 'a"b']),
    st.sampled_from([10, 20, 30, 40, 50, 60, 35, 0, True]),
    st.text(max_size=4),
)
CALLERS = st.sampled_from(
    ["db/query.go:42", "a.py:0012", "x:", ":1", "f:1234567890", "f:123456789", "f:²", "a:b:7",
     "é/ü.go:3", "nocolon"]
)  # fmt: skip
TEXT = st.text(max_size=12) | st.sampled_from(['a"b\\c\n', "é😀\u2028", "\x1b"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)


def _value_for(key: str, draw: st.DrawFn) -> Any:
    if key in ("level", "lvl", "severity", "levelname", "log.level", "loglevel", "@l"):
        return draw(LEVELS | VALUES)
    if key in ("ts", "time", "timestamp", "@timestamp", "@t", "t", "datetime"):
        return draw(TIMES)
    if key == "caller":
        return draw(CALLERS | VALUES)
    return draw(TEXT | VALUES)


@st.composite
def json_lines(draw: st.DrawFn) -> str:
    keys = draw(st.lists(KEYS, max_size=7))
    obj = {key: _value_for(key, draw) for key in keys}
    if draw(st.integers(0, 3)) == 0:
        text = noisy(obj, draw)  # whitespace, escapes, sometimes a key twice
    else:
        text = json.dumps(obj, ensure_ascii=draw(st.booleans()), separators=(",", ":"))
    if draw(st.integers(0, 5)) == 0 and len(text) > 2:  # a key twice, written by hand
        key = draw(st.sampled_from(["level", "a", "msg", "severity"]))
        pair = json.dumps({key: _value_for(key, draw)})[1:-1]
        text = text[:-1] + ("," if obj else "") + pair + "}"
    return text + draw(st.sampled_from(["", "", " ", "\n", "\u00a0", " x"]))


LOGFMT_VALUES = st.one_of(
    st.sampled_from(
        ["v", "", "2026-11-26T11:59:59.999Z", "info", "WARN", "db/q.go:7", "a=b", 'a"b',
         '"quoted"', '"two words"', '"esc \\"q\\" x"', '"back\\\\"', '"\\u00e9 \\n"', '"\\q x"',
         '"open', '"x\\"', '"a" b"', '""', '"\\"', "é", "1.5"]
    ),
    st.text(alphabet="ab \"\\=:é", max_size=6),
)  # fmt: skip


@st.composite
def logfmt_lines(draw: st.DrawFn) -> str:
    names = [*TARGET_KEYS, "a", "b_c", "@x", "_y", "é", "1a", ""]
    keys = draw(st.lists(st.sampled_from(names), min_size=1, max_size=6))
    pairs = []
    for key in keys:
        value = draw(LOGFMT_VALUES)
        if key in ("ts", "time", "timestamp") and draw(st.booleans()):
            value = draw(STAMP_TEXTS)
            if " " in value:
                value = f'"{value}"'
        pairs.append(f"{key}={value}")
    line = draw(st.sampled_from([" ", " ", "  "])).join(pairs)
    return line + draw(st.sampled_from(["", "", " ", "\t\n", "\u2003"]))


PLAIN_LINES = st.sampled_from(
    ["plain text", "Connection reset", "10.42.0.1 - - x", "2026-11-26T11:59:59.999Z INFO x",
     "[error] x", "éa=1", "{not json", "{}", '{"a":1.5e3}', "{" * 70 + "}" * 70, "1", "a=1 b",
     "ERROR: x", "<13>Nov 26 11:00:00 host x: y"]
)  # fmt: skip


@st.composite
def lines(draw: st.DrawFn) -> str:
    line = draw(st.one_of(json_lines(), logfmt_lines(), PLAIN_LINES, st.text(max_size=20)))
    if draw(st.integers(0, 5)) == 0:  # s6-log's prefix
        line = "2026-11-26 11:58:00.123456789 " + draw(st.sampled_from(["", " "])) + line
    return line


OWN_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "json": st.sampled_from([None, {}, {"a": 1}, "s", [1]]),
        "parsed": st.sampled_from([None, {}, {"b": 2}]),
        "app": st.sampled_from([{"type": "x"}, None, 5]),
        "error": st.sampled_from([None, "s", {}, {"message": "m"}, {"type": "t"}]),
        "process": st.sampled_from([None, {}, {"thread": {}}, {"thread": 5}, {"pid": 1}]),
        "trace": st.sampled_from([None, {"id": "t"}, 1]),
        "span": st.sampled_from([{}]),
    },
)
OWN_LOGS = st.sampled_from(
    [{}, {"level": "debug"}, {"origin": {"file": {"name": "a"}}}, {"origin": None},
     {"logger": "l"}, {"offset": 5}]
)  # fmt: skip


@st.composite
def events(draw: st.DrawFn) -> bytes:
    event: dict[str, Any] = {
        "@timestamp": draw(st.sampled_from(["2026-11-26T11:59:58.000Z", "2026-11-01T00:00:00Z"])),
        "@metadata": {"beat": "filebeat"},
    }
    how = draw(st.integers(0, 9))
    if how == 0:
        event["log"] = draw(st.sampled_from([None, "s", 5]))
    elif how > 1:
        log = dict(draw(OWN_LOGS))
        log["offset"] = draw(st.integers(0, 10**6))
        log["file"] = {"path": draw(st.sampled_from([PATH, OTHER_PATH, "/elsewhere/x.log"]))}
        event["log"] = log
    message: Any = draw(lines())
    if draw(st.integers(0, 19)) == 0:
        message = draw(st.sampled_from([None, 5, "", {"a": 1}]))
    event["message"] = message
    event["host"] = {"name": "node-1"}
    event.update(draw(OWN_FIELDS))
    if draw(st.integers(0, 9)) == 0:
        del event["@timestamp"]
    return json.dumps(event, ensure_ascii=draw(st.booleans()), separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


PARSINGS = st.builds(
    ParsingSettings,
    field=st.sampled_from(["json", "json", "parsed", "app"]),
    keep_original=st.booleans(),
    max_line_chars=st.sampled_from([65536, 65536, 30]),
    max_keys=st.sampled_from([200, 200, 2]),
    max_depth=st.sampled_from([16, 16, 2]),
    disabled_for=st.sampled_from([[], [], ["shop"], ["edge/api"]]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(events(), min_size=1, max_size=6),
    PARSINGS,
    st.sampled_from([timedelta(days=6), timedelta(hours=1)]),
    st.sampled_from([timedelta(days=1), timedelta(0)]),
    st.integers(-3_600_000, 3_600_000),
)
def test_generated_lines_are_declined_or_equal(
    values: list[bytes],
    parsing: ParsingSettings,
    max_past: timedelta,
    max_future: timedelta,
    shift: int,
) -> None:
    settings_ = _settings(parsing, max_past=max_past, max_future=max_future)
    compare(list(values), settings_, MILLIS + shift)


def _event(message: str, offset: int = 0, **extra: Any) -> bytes:
    event: dict[str, Any] = {
        "@timestamp": "2026-11-26T11:59:58.000Z",
        "@metadata": {"beat": "filebeat"},
        "log": {"offset": offset, "file": {"path": PATH}},
        "message": message,
        "host": {"name": "node-1"},
        **extra,
    }
    return json.dumps(event, separators=(",", ":")).encode()


# Each rule of `_apply`, `_pairs` and `_other` once, with what the core must take.
TAKEN_LINES = [
    '{"level":"WARN","ts":"2026-11-26T11:59:00.123Z","caller":"db/q.go:42","msg":"slow","n":7}',
    '{"severity":"info","time":"2025-01-01T00:00:00.000Z","message":"out of bounds"}',
    '{"level":30,"time":1795694340123,"msg":"pino"}',
    '{"level":50,"time":1795694340,"msg":"seconds"}',
    '{"ts":1795694340123456,"msg":"micro"}',
    '{"ts":1795694340123456789,"msg":"nano"}',
    '{"ts":1795694340.1234567,"level":"info","msg":"zap"}',
    '{"ts":1795694340.5,"msg":"a float left under json","x":1.5}',
    '{"ts":1.5,"msg":"a float time out of the bounds"}',
    '{"level":"error","a":1,"a":2,"msg":"a key twice"}',
    '{"level":"error","level":"error","msg":"the same level twice"}',
    '{"level":"error","level":"warn"}',
    '{"a" : 1, "b":\t{"c": [1, "\\u00e9\\/", null]}}',
    '{"trace_id":"t","span_id":"s","transaction.id":"x","thread":"main","logger":"l"}',
    '{"error":"boom","error.type":"E","stack_trace":"at x","err":"second"}',
    '{"caller":"x:","@timestamp":"2026-11-26T11:59:59.999Z","t":"second time key"}',
    '{"level":"' + "x" * 33 + '","msg":""}',
    'time="2026-11-26T11:59:30.000Z" level=info msg="a \\"quoted\\" value" k=v empty=',
    'level=warn msg="two words" caller=main.go:12 trace_id=abc',
    'a=1 b="x y z" c="\\u00e9 \\q"',
    "a=1 a=2",
    'a="open b=2',
    '2026-11-26 11:58:00.123456789  {"ts":"2026-11-26T11:58:00.000Z","msg":"behind s6-log"}',
    "{not json",
    "plain text",
]


def test_each_rule_is_taken_byte_for_byte() -> None:
    values: list[bytes | None] = [_event(line, i) for i, line in enumerate(TAKEN_LINES)]
    values += [
        _event('{"level":"info","a":1}', 90, json=None),
        _event('{"level":"info","a":1}', 91, json={}),
        _event('{"level":"info","a":1}', 92, json="s"),
        _event('{"level":"info","a":1}', 93, json={"b": 2}),
        _event('{"caller":"a.go:1"}', 94, log=None),
        _event('{"thread":"t"}', 95, process={"thread": {"id": 1}}),
        _event('{"thread":"t"}', 96, process={"thread": 5}),
        _event('{"error":"e"}', 97, error="own"),
    ]
    for parsing in (ParsingSettings(), ParsingSettings(keep_original=True)):
        reasons: dict[str, int] = {}
        accepted = compare(values, _settings(parsing), reasons=reasons)
        # Declined: two floats that would be written, the merge into the event's own non-empty
        # `json`, and what the plain layouts decline of the five lines that reach them (`a=1
        # a=2`, `a="open`, s6's digit first, `{not json`, `plain text`): all five while
        # src/plain.rs is the declining stub.
        plain = reasons.pop("plain_layout", 0)
        assert plain <= 5
        assert reasons == {"line_float": 2, "own_parsed_field": 1}
        assert accepted == len(values) - 3 - plain


def test_settings_are_honoured() -> None:
    values: list[bytes | None] = [_event(line, i) for i, line in enumerate(TAKEN_LINES)]
    for parsing in (
        ParsingSettings(field="parsed"),
        ParsingSettings(max_line_chars=40),
        ParsingSettings(max_keys=1),
        ParsingSettings(max_depth=1),
        ParsingSettings(disabled_for=["shop"]),
        ParsingSettings(disabled_for=["shop/cart"]),
        ParsingSettings(enabled=False),
    ):
        # Over the limits a line is a plain one (declined by the stub here); the rest is taken.
        assert compare(values, _settings(parsing)) > 0, parsing
    reasons: dict[str, int] = {}
    for parsing in (
        ParsingSettings(naive_time_zone="Europe/Paris"),
        # settings.py refuses it; the core declines it on its own as well
        ParsingSettings.model_construct(**{**ParsingSettings().model_dump(), "field": "log"}),
    ):
        assert compare(values, _settings(parsing), reasons=reasons) == 0
        assert reasons == {"parsing_settings": len(values)}


def test_the_bench_mix_with_parsing_on() -> None:
    """The default configuration on the bench corpus: every event taken by the native core
    (the issue's bound is under 1% declined; the plain layouts are ported, so none is), each
    byte-identical to the reference's."""
    maker = EventMaker(seed=5)
    values: list[bytes | None] = [maker.make(i, MILLIS / 1000.0 - 600 + i) for i in range(3000)]
    reasons: dict[str, int] = {}
    accepted = compare(values, _settings(ParsingSettings()), reasons=reasons)
    assert reasons == {}, reasons
    assert accepted == 3000
