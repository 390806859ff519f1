"""Which core transforms events: the native one (Rust, `indexer_core`) or the Python reference.

The setting `core` (`INDEXER_CORE`) chooses:

- `python`: the reference path (`indexer/transform.py`) for every event;
- `native`: the native core, or start-up fails (the image sets it, so an image that lost its
  core fails its smoke test instead of running slowly);
- `auto` (default): the native core when it imports, speaks this package's contract and passes
  a start-up self-check (built-in events through both paths, byte-identical lines), else the
  reference. The native core parses structured lines (phase 1); `auto` keeps the reference when
  parsing is on for every app with settings the core does not follow (`native_parses`): it
  would decline every event.

The native core takes a whole read and may decline any event; a declined event goes through the
reference path unchanged, counted in `indexer_core_declined_total{reason}`. It never gives a
different answer for an event it accepts: docs/native-core.md says how that is proven.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from indexer import metrics
from indexer.encode import ingested_field
from indexer.kafka_time import clockless, message_seconds
from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings, Settings
from indexer.transform import transform

log = structlog.get_logger(__name__)

CONTRACT = 2
"""The `indexer_core._core.CONTRACT` this package speaks (the shape of `Core.take`)."""

_active = {"name": "python"}


class CoreUnavailable(RuntimeError):
    """`core: native` was asked for and the native core cannot run (the message says why)."""


def active_core_name() -> str:
    """`native` or `python`: the core the last start-up chose (for `indexer_build_info`)."""
    return _active["name"]


@dataclass(frozen=True)
class CoreChoice:
    """The outcome of `choose_core`: the core's name, its version and why it was chosen."""

    name: str
    version: str | None
    why: str


_choices: dict[tuple[str, str, str], CoreChoice] = {}


def choose_core(settings: Settings) -> CoreChoice:
    """Resolve `settings.core` once per process (the self-check runs once per routing setup).

    Raises CoreUnavailable for `native` when the core does not import, speaks another contract
    or fails its self-check."""
    key = (settings.core, settings.routing.model_dump_json(), settings.parsing.model_dump_json())
    choice = _choices.get(key)
    if choice is None:
        choice = _choices[key] = _choose(settings)
        _active["name"] = choice.name
        metrics.set_build_core(choice.name)
    return choice


def _choose(settings: Settings) -> CoreChoice:
    if settings.core == "python":
        return CoreChoice("python", None, "core: python")
    parsing = settings.parsing
    if (
        settings.core == "auto"
        and parsing.enabled
        and not parsing.disabled_for
        and not native_parses(parsing)
    ):
        # The core declines every parsed event under these settings: with parsing on for every
        # app it would only add its own cost.
        return CoreChoice(
            "python",
            None,
            "core: auto, native core not used: it does not parse structured lines with "
            "parsing.naive_time_zone other than UTC, and parsing is on for every app "
            "(INDEXER_CORE=native uses it)",
        )
    problem: str | None
    problem, module = _load()
    if module is not None:
        problem = self_check(module, settings.routing)
        if problem is None:
            return CoreChoice("native", str(module.__version__), f"core: {settings.core}")
    if settings.core == "native":
        raise CoreUnavailable(f"setting core (INDEXER_CORE) is native, but {problem}")
    return CoreChoice("python", None, f"core: auto, native core not used: {problem}")


def _load() -> tuple[str, Any]:
    try:
        module = importlib.import_module("indexer_core._core")
    except ImportError as exc:
        return f"indexer_core does not import ({exc}); `make venv` builds it", None
    if getattr(module, "CONTRACT", None) != CONTRACT:
        return (
            f"indexer_core speaks contract {getattr(module, 'CONTRACT', None)}, this package "
            f"{CONTRACT}; rebuild it from this tree (`make venv`)"
        ), None
    return "", module


def native_parses(parsing: ParsingSettings) -> bool:
    """Whether the native core parses lines under these settings (else it declines every
    parsed event, reason `parsing_settings`): naive times in UTC. (It also declines a
    `parsing.field` named like a field it writes, which settings.py refuses anyway.)"""
    return parsing.naive_time_zone == "UTC"


def new_native(
    module: Any, settings: Settings, router: Router, *, counted: bool = True
) -> NativeTake:
    """The native take for `router` (one core per router: the routes it holds are the
    router's). `counted=False` (the self-check) keeps its declines out of the metrics."""
    routing, parsing = settings.routing, settings.parsing
    core = module.Core(
        routing.index_prefix,
        routing.max_past.total_seconds(),
        routing.max_future.total_seconds(),
        parsing.enabled,
        field=parsing.field,
        keep_original=parsing.keep_original,
        max_line_chars=parsing.max_line_chars,
        max_keys=parsing.max_keys,
        max_depth=parsing.max_depth,
        naive_time_zone=parsing.naive_time_zone,
    )
    return NativeTake(core, router, counted=counted)


def native_take(settings: Settings, router: Router) -> NativeTake | None:
    """The native take for a pipeline, or None when the reference path runs. Raises
    CoreUnavailable as `choose_core` does."""
    choice = choose_core(settings)
    if choice.name != "native":
        return None
    _, module = _load()
    return new_native(module, settings, router)


Taken = tuple[list[Any], list[str], list[bytes], dict[tuple[str, int], int], dict[int, str]]
"""What `Batcher.extend` takes: messages, indices, lines, highest offsets, dead letters."""


class NativeTake:
    """One read through the native core, the declined positions through the reference."""

    def __init__(self, core: Any, router: Router, *, counted: bool = True) -> None:
        self._core = core
        self._router = router
        # The start-up self-check's own declines are no events: counting them would show
        # declines on an idle indexer (about 20 per start) and skew the decline share.
        self._counted = counted

    def take(self, messages: list[Any], ingested: bytes, on_error: Callable[[Any], None]) -> Taken:
        """Transform a read: the same indices, lines and dead letters as `transform` for each
        message, error messages (handed to `on_error`) left out. Raises what `on_error` or a
        message's accessors raise."""
        router = self._router
        (indices, lines, declined, new_paths, high, reasons, unmatched, redated, stamp) = (
            self._core.take(messages, ingested)
        )
        router.count_native(unmatched, redated, stamp)
        deadletters: dict[int, str] = {}
        errors: list[int] = []
        for position in declined:
            message = messages[position]
            error = message.error()
            if error is not None:
                on_error(error)
                errors.append(position)
                continue
            seconds = message_seconds(message)
            if clockless(message) and self._counted:
                # Pipeline._take counts these on the reference path; the core declines every
                # record without a usable Kafka time (`kafka_timestamp`), so they come here.
                metrics.EVENTS_CLOCKLESS.inc()
            index, line, undecodable = transform(
                router,
                message.value(),
                message.topic(),
                message.partition(),
                message.offset(),
                seconds,
                ingested,
            )
            indices[position] = index
            lines[position] = line
            if undecodable is not None:
                deadletters[position] = undecodable
            high[message.topic(), message.partition()] = max(
                message.offset(), high.get((message.topic(), message.partition()), -1)
            )
        for path in set(new_paths):
            route = router.route_of(path)
            if route is None:
                self._core.add_route(path, None, b"", False)
            else:
                self._core.add_route(path, route.base, route.fields, route.parse)
        if self._counted:
            for reason, count in reasons.items():
                if reason != "error_message":
                    metrics.CORE_DECLINED.labels(reason).inc(count)
        if errors:
            return _without(errors, messages, indices, lines, high, deadletters)
        return messages, indices, lines, high, deadletters


def _without(
    errors: list[int],
    messages: list[Any],
    indices: list[Any],
    lines: list[Any],
    high: dict[tuple[str, int], int],
    deadletters: dict[int, str],
) -> Taken:
    """The read without its error messages (the rare case), positions renumbered."""
    skip = set(errors)
    kept = [i for i in range(len(messages)) if i not in skip]
    renumber = {old: new for new, old in enumerate(kept)}
    return (
        [messages[i] for i in kept],
        [indices[i] for i in kept],
        [lines[i] for i in kept],
        high,
        {renumber[i]: reason for i, reason in deadletters.items()},
    )


# The self-check ------------------------------------------------------------------------------


class _Message:
    """A consumed record as the self-check hands it to both paths (confluent-kafka's accessors)."""

    def __init__(self, value: bytes | None, offset: int, millis: int) -> None:
        self._value, self._offset, self._millis = value, offset, millis

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "self-check"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, self._millis

    def value(self) -> bytes | None:
        return self._value


_MILLIS = 1_764_158_400_000  # a fixed Kafka time: the check never depends on today


def _self_check_events(routing: RoutingSettings) -> list[bytes]:
    """Filebeat-shaped events over the configured layouts (a path for each), the id rules,
    escapes, numbers and stamps in and out of bounds, plus messages the reference
    dead-letters."""
    paths = ["/data/logs/shop/cart/cart-7d4b9c8f6-x2x7q/log/app.log", "/nowhere/x.log"]
    for layout in routing.layouts:
        filled = layout
        for name, value in (
            ("namespace", "ns"), ("app", "app"), ("pod", "app-6d5f7c-x2x7q"),
            ("container", "c"), ("uid", "u1"), ("id", "a" * 64), ("file", "0.log"),
        ):  # fmt: skip
            filled = filled.replace("{" + name + "}", value)
        paths.append(filled)
    events: list[bytes] = []
    stamps = ["2025-11-26T11:59:00.123Z", "2025-11-01T00:00:00.000Z", "2025-11-26T12:00:00Z...Z"]
    for i, path in enumerate(paths):
        for j, stamp in enumerate(stamps):
            event: dict[str, Any] = {
                "@timestamp": stamp,
                "@metadata": {"beat": "filebeat", "_id": 'given-é"id'} if j == 2 else {"b": 1},
                "log": {"offset": i * 100 + j, "file": {"path": path, "inode": "7" if j else 0}},
                "message": f'line {i} é \u2028 \x1b "quoted" \\ {j}',
                "host": {"name": "node-1"},
                "n": [0, -12, True, None, {"deep": [[]]}],
            }
            events.append(orjson.dumps(event))
    events += [
        b' {"@timestamp" : "2025-11-26T11:00:00.000Z", "a":"\\u00e9\\/\\ud83d\\ude00", "b":-0}\n',
        b"{}",
        b'{"@timestamp":5}',
        b"",
        b"\xff",
        b'{"a":1,}',
        b"[1]",
        b'{"a":"\\ud800"}',
    ]
    return events


# Structured lines (`message`) for the parsing self-check: JSON (level, time in and out of the
# bounds, an epoch, caller, message, error, thread, keys left under `json`), a JSON line with a
# key twice, logfmt (quotes, escapes, a quoted value with spaces), s6-log's prefix, and plain
# lines (taken once the plain layouts are ported).
_SELF_CHECK_LINES = [
    '{"level":"WARN","ts":"2025-11-26T11:59:00.123Z","caller":"db/q.go:42","msg":"slow",'
    '"n":7,"deep":{"a":[1,"\u00e9"]},"thread":"main","error":"boom"}',
    '{"severity":"info","time":"2025-01-01T00:00:00.000Z","message":"out of bounds","x":null}',
    '{"level":30,"time":1764158340123,"msg":"pino","pid":1}',
    '{"level":"error","a":1,"a":2,"msg":"a key twice"}',
    'time="2025-11-26T11:59:30.000Z" level=info msg="a \\"quoted\\" value" k=v empty=',
    "2025-11-26 11:58:00.123456789  "
    '{"ts":"2025-11-26T11:58:00.000Z","msg":"behind s6-log","trace_id":"abc"}',
    '{"msg":"no time","span_id":"s1","logger":"app.x","process.thread.name":"t"}',
    "2025-11-26T11:59:00.000Z INFO started",
    "plain text",
]


def _self_check_lines() -> list[bytes]:
    events: list[bytes] = []
    for i, line in enumerate(_SELF_CHECK_LINES):
        event: dict[str, Any] = {
            "@timestamp": "2025-11-26T11:59:59.000Z",
            "@metadata": {"beat": "filebeat"},
            "log": {"offset": i, "file": {"path": "/nowhere/parsed.log"}},
            "message": line,
            "host": {"name": "node-1"},
        }
        events.append(orjson.dumps(event))
    return events


def self_check(module: Any, routing: RoutingSettings) -> str | None:
    """Run the built-in events through the native core and the reference and compare the lines
    byte for byte: parsing off, then structured lines with parsing on (and again keeping
    `event.original`). None when they agree, else what differs."""
    problem = _check(module, routing, ParsingSettings(enabled=False), _self_check_events(routing))
    for keep_original in (False, True):
        if problem is None:
            parsing = ParsingSettings(keep_original=keep_original)
            problem = _check(module, routing, parsing, _self_check_lines(), minimum=5)
    return problem


def _check(
    module: Any,
    routing: RoutingSettings,
    parsing: ParsingSettings,
    values: list[bytes],
    minimum: int | None = None,
) -> str | None:
    """One self-check read: byte-identical where taken, and at least `minimum` (default half)
    of the events taken."""
    from indexer.settings import Settings as _Settings

    settings = _Settings(routing=routing, parsing=parsing)
    messages = [_Message(value, offset, _MILLIS) for offset, value in enumerate(values)]
    ingested = ingested_field(_MILLIS / 1000.0)
    reference = Router(settings.routing, settings.parsing)
    expected = [
        transform(reference, m.value(), "self-check", 0, m.offset(), _MILLIS / 1000.0, ingested)
        for m in messages
    ]
    try:
        router = Router(settings.routing, settings.parsing)
        native = new_native(module, settings, router, counted=False)
        native.take(messages, ingested, on_error=lambda error: None)  # registers the paths
        core: Any = native._core
        indices, lines, declined, *_ = core.take(messages, ingested)
    except Exception as exc:  # a broken build may raise anything; say so, never crash auto
        return f"the native core failed its self-check: {exc!r}"
    accepted = 0
    for position, (index, line, reason) in enumerate(expected):
        if position in declined:
            continue
        accepted += 1
        if reason is not None or (indices[position], lines[position]) != (index, line):
            return (
                f"the native core's self-check differs from the reference at event {position}: "
                f"{lines[position]!r} != {line!r}"
            )
    if accepted < (len(messages) // 2 if minimum is None else minimum):
        return f"the native core declined {len(messages) - accepted} of {len(messages)} checks"
    return None
