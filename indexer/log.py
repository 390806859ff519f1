"""structlog setup: JSON lines in production, readable lines on a terminal.

Every record carries an ISO-8601 UTC timestamp, the level and the event name; context bound with
`structlog.contextvars` (for example the consumer's group) travels along.
"""

from __future__ import annotations

import logging
import sys

import structlog

from indexer.redact import redact_value
from indexer.settings import LogSettings


def configure_logging(settings: LogSettings) -> None:
    level = getattr(logging, settings.level.upper())
    as_json = settings.format == "json" or (settings.format == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_StderrLoggerFactory(),
        # Never cached: a logger looks up sys.stderr each time (tests swap it), and nothing logs
        # per event, so the lookup costs nothing that matters.
        cache_logger_on_first_use=False,
    )


def _redact_secrets(
    _logger: object, _method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """No credentials of a URL in any log line (a host list, an error naming its URL, a
    traceback). Log calls are never per event, so this costs nothing that matters."""
    return {key: redact_value(value) for key, value in event_dict.items()}


class _StderrLoggerFactory:
    def __call__(self, *args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(sys.stderr)
