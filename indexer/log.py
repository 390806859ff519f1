"""structlog setup: ECS JSON lines in production, readable lines on a terminal.

The indexer and the agent configure logging here (through `indexer.cli.settings_from`), so both
name their events the same way. A JSON line follows the ecs-logging layout
(https://github.com/elastic/ecs-logging/blob/main/spec/spec.json) with ECS field names
(https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html):

    {"@timestamp":"2026-11-26T10:00:00.123456Z","log.level":"error","message":"exiting: …",
     "ecs.version":"9.4.0","log":{"logger":"indexer.main"},"event":{"action":"exiting"},
     "error":{"type":"ClusterUnavailable","message":"…"},"reason":"…"}

- `@timestamp`, `log.level`, `message` and `ecs.version` come first, as dotted top-level keys
  (the spec asks for that; it is also what our own line parser, indexer/structured.py, lifts);
- `event.action` is the event's name (`exiting`, `agent.rotated`…): the name logs are searched
  by. `message` repeats it, followed by the line's reason, `why` or error when it has one, so a
  line read by eye or in Kibana's message column says what happened;
- `error=` (a string or an exception) becomes `error.message` (and `error.type`); an exception
  logged with `log.exception`/`exc_info` becomes `error.type`, `error.message` and
  `error.stack_trace`;
- `log.logger` is the module that logged;
- every other key stays at the top level, except one whose name is an ECS object (`file`,
  `group`, `host`…) with a plain value: that one moves to `labels` (ECS's custom keyword pairs),
  so no line of ours can make a field ECS maps as an object a string.

Context bound with `structlog.contextvars` travels along as top-level keys.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import PurePath
from typing import Any

import orjson
import structlog

from indexer.redact import redact_value
from indexer.settings import LogSettings

# The ECS release our templates and tests/data/ecs_fields.yml follow.
ECS_VERSION = "9.4.0"

# ECS's field sets (https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html) and
# the base fields that are objects or arrays: a key of ours with one of these names and a
# plain value would clash with the object ECS maps there.
ECS_OBJECTS = frozenset(
    [
        "agent",
        "as",
        "client",
        "cloud",
        "code_signature",
        "container",
        "data_stream",
        "destination",
        "device",
        "dll",
        "dns",
        "ecs",
        "elf",
        "email",
        "entity",
        "error",
        "event",
        "faas",
        "file",
        "gen_ai",
        "geo",
        "group",
        "hash",
        "host",
        "http",
        "interface",
        "labels",
        "log",
        "macho",
        "network",
        "observer",
        "orchestrator",
        "organization",
        "os",
        "package",
        "pe",
        "process",
        "registry",
        "related",
        "risk",
        "rule",
        "server",
        "service",
        "source",
        "span",
        "tags",
        "threat",
        "tls",
        "trace",
        "transaction",
        "url",
        "user",
        "user_agent",
        "vlan",
        "volume",
        "vulnerability",
        "x509",
    ]
)
# The keys whose value, when a string, completes `message` (the first one found).
_DETAIL_KEYS = ("reason", "why", "error")


def configure_logging(settings: LogSettings) -> None:
    level = getattr(logging, settings.level.upper())
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    tail: list[structlog.typing.Processor] = (
        [ecs_fields, _redact_secrets, structlog.processors.JSONRenderer(serializer=_dumps)]
        if as_json
        else [
            structlog.processors.format_exc_info,
            _redact_secrets,
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
        ]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            *tail,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_StderrLoggerFactory(),
        # Never cached: a logger looks up sys.stderr each time (tests swap it), and nothing logs
        # per event, so the lookup costs nothing that matters.
        cache_logger_on_first_use=False,
    )


def ecs_fields(
    _logger: object, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """structlog's event dict (`event`, `level`, `timestamp`, `exc_info`, the caller's keys) as
    an ECS line (the module docstring). Runs last before the renderer; never raises for a
    value of the caller's."""
    name = str(event_dict.pop("event", ""))
    line: dict[str, Any] = {
        "@timestamp": event_dict.pop("timestamp", None),
        "log.level": event_dict.pop("level", method),
        "message": name,
        "ecs.version": ECS_VERSION,
        "log": {"logger": _calling_module()},
        "event": {"action": name},
    }
    error = _error_fields(event_dict.pop("error", None), event_dict.pop("exc_info", None))
    if error:
        line["error"] = error
    for key in _DETAIL_KEYS:
        detail = error.get("message") if key == "error" else event_dict.get(key)
        if isinstance(detail, str) and detail:
            line["message"] = f"{name}: {detail}"
            break
    labels: dict[str, str] = {}
    for key, value in event_dict.items():
        if key in ECS_OBJECTS and not isinstance(value, dict):
            labels[key] = str(value)
        else:
            line[key] = value
    if labels:
        line["labels"] = labels
    return line


def _error_fields(error: object, exc_info: object) -> dict[str, str]:
    """`error.*` from an `error=` value (a string or an exception) and `exc_info` (True, an
    exception or a `sys.exc_info()` triple), as structlog's `format_exc_info` reads them."""
    fields: dict[str, str] = {}
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        kind, exc, tb = exc_info
        fields["type"] = kind.__name__
        fields["message"] = str(exc)
        fields["stack_trace"] = "".join(traceback.format_exception(kind, exc, tb))
    if isinstance(error, BaseException):
        fields["type"] = type(error).__name__
        fields["message"] = str(error)
    elif error is not None:
        fields["message"] = str(error)
    return fields


def _calling_module() -> str:
    """The module that called the logger: the first frame outside structlog and this module.
    Logging is never per event, so walking a few frames costs nothing that matters."""
    frame = sys._getframe(1)
    while frame.f_back is not None and _own(str(frame.f_globals.get("__name__", ""))):
        frame = frame.f_back
    return str(frame.f_globals.get("__name__", "?"))


def _own(module: str) -> bool:
    return module in (__name__, "structlog") or module.startswith("structlog.")


def _dumps(obj: Any, **_kw: Any) -> str:
    """orjson; a value orjson cannot write becomes a string (a path its text, others repr)."""
    return orjson.dumps(obj, default=_fallback, option=orjson.OPT_NON_STR_KEYS).decode()


def _fallback(value: object) -> str:
    return str(value) if isinstance(value, PurePath) else repr(value)


def _redact_secrets(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """No credentials of a URL in any log line (a host list, an error naming its URL, a
    traceback). Log calls are never per event, so this costs nothing that matters."""
    return {key: redact_value(value) for key, value in event_dict.items()}


class _StderrLoggerFactory:
    def __call__(self, *args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(sys.stderr)
