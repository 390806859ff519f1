"""The native core against the Python reference, byte for byte (docs/native-core.md).

For every message: when the reference dead-letters it, the native core declines it; otherwise
the native core gives the reference's index and line (the `_id` and the document inside it), or
declines. And a whole read through `NativeTake` (native plus the reference for what it
declines) equals the reference read for read. A single different byte fails these tests.
"""

from __future__ import annotations

import json
import string
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("indexer_core")

import indexer_core._core as native_module

from bench.events import EventMaker
from indexer.bulk import CLOCK_SET_MILLIS, message_seconds
from indexer.core import NativeTake, new_native
from indexer.encode import ingested_field
from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings, Settings
from indexer.transform import transform
from tests.unit.test_decode import FILEBEAT_7_17, FILEBEAT_8_11

MILLIS = 1_795_694_400_000  # 2026-11-26T12:00:00Z: fixed, never today
TOPIC = "filebeat"


class Record:
    """A consumed record with confluent-kafka's accessors, as both paths read them."""

    def __init__(self, value: bytes | None, offset: int, millis: int = MILLIS, kind: int = 1):
        self._value, self._offset, self._millis, self._kind = value, offset, millis, kind

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 3

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return self._kind, self._millis

    def value(self) -> bytes | None:
        return self._value


def _settings(parsing: bool | ParsingSettings = False, **routing: Any) -> Settings:
    if not isinstance(parsing, ParsingSettings):
        parsing = ParsingSettings(enabled=parsing)
    return Settings(routing=RoutingSettings(**routing), parsing=parsing)


# The decline reasons of docs/native-core.md's table: the core never declines for another.
DOCUMENTED_REASONS = frozenset(
    ["empty_message", "invalid_utf8", "invalid_json", "not_an_object", "float", "big_integer",
     "duplicate_key", "deep", "wide_object", "new_path", "escaped_path",
     "own_kubernetes_or_service", "own_kafka_or_event", "no_timestamp", "timestamp_shape",
     "kafka_timestamp", "unreadable_message", "panic",
     # structured lines (phase 1)
     "plain_layout", "parsing_settings", "non_ascii_line", "line_float", "line_big_integer",
     "line_deep", "line_wide", "own_parsed_field", "epoch_time", "s6_plain", "line_time_year",
     "ingested_shape"]
)  # fmt: skip


def compare(
    values: list[bytes | None],
    settings: Settings,
    millis: int = MILLIS,
    reasons: dict[str, int] | None = None,
) -> int:
    """Assert the property over one read (twice: the second time every path is registered),
    and that every decline has a documented reason. Returns how many events the native core
    took on the second read; `reasons` gets the second read's decline counts."""
    records = [Record(value, offset, millis) for offset, value in enumerate(values)]
    ingested = ingested_field(millis / 1000.0)
    reference = Router(settings.routing, settings.parsing)
    # As the poll loop reads a Kafka time: clamped, or (before 2000, a clock never set) now.
    expected = [
        transform(reference, r.value(), TOPIC, 3, r.offset(), message_seconds(r), ingested)
        for r in records
    ]
    take: NativeTake = new_native(
        native_module, settings, Router(settings.routing, settings.parsing)
    )
    accepted = 0
    for _ in range(2):
        accepted = 0
        indices, lines, declined, _, _, counts, *_ = take._core.take(records, ingested)
        assert set(counts) <= DOCUMENTED_REASONS, counts
        if reasons is not None:
            reasons.clear()
            reasons.update(counts)
        for position, (index, line, reason) in enumerate(expected):
            if position in declined:
                assert lines[position] is None
                continue
            assert reason is None, (
                f"native took what the reference dead-letters: {values[position]!r}"
            )
            assert (indices[position], lines[position]) == (index, line), values[position]
            accepted += 1
        whole = take.take(records, ingested, on_error=pytest.fail)
        assert whole[1] == [e[0] for e in expected]
        assert whole[2] == [e[1] for e in expected]
        assert whole[4] == {i: e[2] for i, e in enumerate(expected) if e[2] is not None}
        assert whole[3] == {(TOPIC, 3): len(values) - 1}
    return accepted


def test_the_bench_mix_is_taken_byte_for_byte_with_parsing_off() -> None:
    maker = EventMaker(seed=3)
    values: list[bytes | None] = [maker.make(i, MILLIS / 1000.0 - 600 + i) for i in range(3000)]
    accepted = compare(values, _settings())
    assert accepted == 3000  # all of the second read: the first declines every (new) path


def test_with_parsing_on_events_are_declined_or_equal() -> None:
    maker = EventMaker(seed=4)
    values: list[bytes | None] = [maker.make(i, MILLIS / 1000.0 - i) for i in range(400)]
    compare(values, _settings(parsing=True))
    compare(
        values,
        _settings(parsing=True).model_copy(
            update={"parsing": ParsingSettings(disabled_for=["default", "shop"])}
        ),
    )


EDGE_CASES: list[bytes | None] = [
    FILEBEAT_7_17,
    FILEBEAT_8_11,
    None,
    b"",
    b"plain text",
    b'{"unterminated": ',
    b'{"message": "\xff"}',
    b"[1, 2]",
    b'"a string"',
    b"null",
    b"{}",
    b" {} ",
    b"\xef\xbb\xbf{}",  # BOM
    b'{"@timestamp":"2026-11-26T11:00:00.000Z"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":"a\\"b\\u00e9\\/"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":""}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":"' + b"x" * 513 + b'"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":"' + b"x" * 512 + b'"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":"\xc3\xa9' + b"x" * 510 + b'"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":[1]}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","@metadata":{"_id":5}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":1,"a":2}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":{"b":1,"b":2}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":1.5}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":1e400}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":NaN}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":-0,"b":123456789012345678}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":1234567890123456789012}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":"\\ud800"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":"\\udc00\\ud800"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":"\\ud83d\\ude00\\u2028\\u007f\\u001f\\b"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":"\xed\xa0\x80"}',  # encoded surrogate
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":"tab\there"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z"} x',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z"}\n\r\t ',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":' + b"[" * 300 + b"]" * 300 + b"}",
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","a":' + b"[" * 60 + b"]" * 60 + b"}",
    b'{"@timestamp":"2026-11-26T11:00:00+01:00"}',
    b'{"@timestamp":"2026-11-26 11:00:00.000Z"}',
    b'{"@timestamp":"2026-11-2611:00:00.000Z"}',
    b'{"@timestamp":"2026-02-30T11:00:00.000Z"}',
    b'{"@timestamp":"2026-11-26T11:00Z"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000\\u005a"}',
    b'{"@timestamp":"2026-11-26T11:00:\xc3\xa9\xc3\xa9\xc3\xa9Z"}',
    b'{"@timestamp":"2026-11-19T11:59:00.000Z"}',  # just beyond max_past
    b'{"@timestamp":"2026-11-20T12:00:00.000Z"}',
    b'{"@timestamp":"2026-11-27T12:00:00.000Z"}',
    b'{"@timestamp":"2026-11-27T12:01:00.000Z"}',
    b'{"@timestamp":null}',
    b'{"@timestamp":12}',
    b'{"@timestamp":{"a":1}}',
    b'{"message":"no stamp"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","kafka":{"topic":"x"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","event":5}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","kubernetes":{},"log":{"file":{"path":"/data/logs/a/b/b-0/log/x"}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","service":"s"}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":{"path":"/data/logs/a/b/b-0/log/x"}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":{"path":"/data/logs/A/b/b-0/log/x"}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":{"path":"/data/logs/a/../b-0/log/x"}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":{"path":"/data/logs/a/b\\"/b-0/log/x"}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":{"path":5}}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":{"file":"/x"}}',
    b'{"@timestamp":"2026-11-26T11:00:00.000Z","log":[1]}',
]


def test_edge_cases_are_declined_or_equal() -> None:
    compare(EDGE_CASES, _settings())
    compare(EDGE_CASES, _settings(parsing=True))


def test_kafka_times_at_and_beyond_the_bounds() -> None:
    event = b'{"@timestamp":"2026-11-26T11:00:00.000Z","message":"m"}'
    for millis in (CLOCK_SET_MILLIS, CLOCK_SET_MILLIS + 1, 253_402_300_799_999, MILLIS + 1):
        compare([event, b"{}"], _settings(), millis)
    # No timestamp kind, out of range, or before 2000 (a clock never set: routed by now): the
    # reference's message_seconds.
    records = [
        Record(event, 0, -1, 0),
        Record(event, 1, -5),
        Record(event, 2, 10**16),
        Record(event, 3, 0),
        Record(event, 4, CLOCK_SET_MILLIS - 1),
    ]
    take = new_native(native_module, _settings(), Router(RoutingSettings()))
    declined = take._core.take(records, b"")[2]
    assert declined == [0, 1, 2, 3, 4]


# Generated events ---------------------------------------------------------------------------

KEYS = st.sampled_from(
    ["@timestamp", "@metadata", "_id", "log", "file", "path", "offset", "inode", "device_id",
     "fingerprint", "host", "name", "message", "a", "é", "k\"q", "kafka", "event", "service"]
)  # fmt: skip
PATHS = st.sampled_from(
    ["/data/logs/shop/cart/cart-7d4b9c8f6-xbcdf/log/a.log", "/data/logs/Shop/x/y/log/a",
     "/var/log/pods/ns_pod-1_uid/c/0.log", "/elsewhere/a.log", "/data/logs/a/B_c.d/b-1/log/x"]
)  # fmt: skip
STAMPS = st.one_of(
    st.sampled_from(
        ["2026-11-26T11:59:59.999Z", "2026-11-20T12:00:00.000Z", "2026-11-19T11:59:00.000Z",
         "2026-11-27T12:00:00.000Z", "2026-11-27T12:01:00.000Z", "2024-02-29T00:00:00.000Z",
         "2026-11-26T11:00:00+00:00", "2026-11-26T11:00:00.000", "garbage-but-long-enough-Z"]
    ),
    st.text(min_size=0, max_size=30),
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {}
    if draw(st.booleans()):
        event["@timestamp"] = draw(STAMPS | SCALARS)
    if draw(st.booleans()):
        event["@metadata"] = {"_id": draw(st.text(max_size=8) | SCALARS)}
    file: dict[str, Any] = {"path": draw(PATHS | SCALARS)}
    for key in ("inode", "device_id", "fingerprint"):
        if draw(st.booleans()):
            file[key] = draw(st.sampled_from(["", "0", "17"]) | st.integers(-2, 2) | SCALARS)
    if draw(st.integers(0, 4)):
        event["log"] = {"offset": draw(st.integers(-5, 2**64) | SCALARS), "file": file}
    if draw(st.integers(0, 4)):
        event["message"] = draw(st.text(max_size=40))
    if draw(st.integers(0, 4)):
        event["host"] = {"name": draw(st.text(max_size=6) | SCALARS)}
    event.update(draw(st.dictionaries(KEYS, VALUES, max_size=3)))
    return event


def _escape(text: str, draw: st.DrawFn) -> str:
    """A JSON string of `text` with some characters escaped in the ways JSON allows."""
    out = []
    for char in text:
        how = draw(st.integers(0, 5))
        if char in '"\\' or ord(char) < 0x20 or how == 0:
            if ord(char) > 0xFFFF:
                high, low = divmod(ord(char) - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}")
            else:
                out.append(f"\\u{ord(char):04x}")
        elif char == "/" and how == 1:
            out.append("\\/")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def noisy(value: Any, draw: st.DrawFn) -> str:
    """JSON text of `value` as another writer may write it: whitespace, escapes, exponents."""
    space = draw(st.sampled_from(["", " ", "\n\t", "\r\n  "]))
    if isinstance(value, dict):
        items = [f"{_escape(k, draw)}{space}:{space}{noisy(v, draw)}" for k, v in value.items()]
        if items and draw(st.integers(0, 9)) == 0:  # a duplicate key
            items.append(items[0])
        return "{" + space + ("," + space).join(items) + space + "}"
    if isinstance(value, list):
        return "[" + ",".join(noisy(v, draw) for v in value) + "]"
    if isinstance(value, str):
        return _escape(value, draw)
    if isinstance(value, int) and not isinstance(value, bool):
        if draw(st.integers(0, 5)) == 0:
            return f"{value}e0" if value >= 0 else f"-0{-value}"
        return str(value)
    return json.dumps(value)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    event = draw(events())
    how = draw(st.integers(0, 3))
    plain = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    data = (plain if how == 0 else noisy(event, draw)).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 7)) == 0 and data:  # a byte changed, cut or added
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(st.sampled_from([b"", b"\xff", b"\x00", b"\\", b'"', b"}", b"\xc3", b"1"]))
        data = data[:at] + byte + data[at + draw(st.integers(0, 1)) :]
    return data


ROUTINGS = st.builds(
    dict,
    index_prefix=st.sampled_from(["k8s-logs", "a", "x-y.z"]),
    max_past=st.sampled_from([timedelta(days=6), timedelta(hours=1), timedelta(seconds=1.5)]),
    max_future=st.sampled_from([timedelta(days=1), timedelta(0), timedelta(minutes=30)]),
    layouts=st.sampled_from(
        [
            None,
            ["/data/logs/{namespace}/{app}/{pod}/log/{file}"],
            ["/var/log/pods/{namespace}_{pod}_{uid}/{container}/{file}"],
        ]
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Kafka times from 2000 on: before it the reference routes by the wall clock (a clock never
# set), which two readings cannot agree on to the millisecond (test_kafka_times_… covers it).
@given(
    st.lists(messages(), min_size=1, max_size=8),
    ROUTINGS,
    st.booleans(),
    st.integers(CLOCK_SET_MILLIS, 2**41),
)
def test_generated_events_are_declined_or_equal(
    values: list[bytes], routing: dict[str, Any], parsing: bool, millis: int
) -> None:
    if routing["layouts"] is None:
        del routing["layouts"]
    compare(list(values), _settings(parsing, **routing), millis)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64), st.text(alphabet=string.printable, max_size=40))
def test_arbitrary_bytes_are_declined_or_equal(data: bytes, text: str) -> None:
    compare([data, text.encode(), b"{" + data + b"}"], _settings())


class ErrorRecord(Record):
    """A record that carries a consumer error (`message.error()` set), as librdkafka hands one."""

    def error(self) -> Any:  # type: ignore[override]
        return "partition EOF"


def test_error_messages_are_handed_to_the_poll_loop_and_left_out_of_the_read() -> None:
    good = b'{"@timestamp":"2026-11-26T11:00:00.000Z","message":"m"}'
    records = [Record(b"[1]", 0), ErrorRecord(None, 1), Record(good, 2), ErrorRecord(None, 3)]
    seen: list[Any] = []
    settings = _settings()
    take = new_native(native_module, settings, Router(settings.routing, settings.parsing))
    ingested = ingested_field(MILLIS / 1000.0)
    messages, indices, lines, high, deadletters = take.take(records, ingested, seen.append)
    assert seen == ["partition EOF", "partition EOF"]
    assert messages == [records[0], records[2]]
    reference = Router(settings.routing, settings.parsing)
    expected = [
        transform(reference, r.value(), TOPIC, 3, r.offset(), MILLIS / 1000.0, ingested)
        for r in (records[0], records[2])
    ]
    assert (indices, lines) == ([e[0] for e in expected], [e[1] for e in expected])
    assert deadletters == {0: "not_an_object"}
    assert high == {(TOPIC, 3): 2}
