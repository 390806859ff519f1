"""Structured lines: an event's `message` → ECS fields, with no configuration, bounded.

One look at the line decides (s6-log's `T` prefix, `YYYY-MM-DD HH:MM:SS.nnnnnnnnn`, set aside
first; its time is the line's time when the line has none of its own):

- `{…}` that is a JSON object: its level, message, time, logger, error, trace and span keys
  (the names below: zap, logrus, slog, pino/bunyan, logback/logstash, Serilog, ecs-logging) fill
  `log.level`, `message`, `@timestamp`, `log.logger`, `error.*`, `trace.id`, `span.id`…; every
  other key goes under ONE field (`parsing.field`, default `json`, where filebeat's own
  `decode_json_fields` puts keys it does not lift to the root), so an app key named `kubernetes`,
  `@timestamp` or `log` can never change ours;
- `key=value key2="quoted value" …` and nothing else, no key twice: logfmt, mapped the same way;
- anything else: the level and the leading time of the plain layouts common servers and
  loggers write (log4j/logback/log4j2, Python's logging, klog, Apache httpd, nginx, logcat,
  oslo.log, Windows CBS, .NET, syslog, Ruby's Logger, pino-pretty, winston: the README's table),
  found by the line's first character and one anchored expression (`_plain`), or a `level=`
  early in the line; the line itself stays the `message`. A JSON line with a key twice stays
  whole too (orjson keeps only the last value), with its level when unambiguous.

`log.level` is the line's own word, lower-cased (ECS: "the original log level of the log event",
examples `warn, err, i, informational`, https://www.elastic.co/docs/reference/ecs/ecs-log):
`WARNING` stays `warning`, `WARN` becomes `warn`; only codes are spelled out, by their own
logger's names (klog's `I/W/E/F`, logcat's `V/D/I/W/E/F/A`, syslog's severities, .NET's
`trce/dbug/fail`, pino's and bunyan's 10…60). A field the shipper already set (`log.level`,
`error.message`…) is never overwritten.

The time is used only when it parses and lies within the routing bounds (route.py decides, so the
day stays a pure function of the message); otherwise filebeat's `@timestamp` stays, and a JSON or
logfmt time key stays under `json`. Times without a zone are `parsing.naive_time_zone` (UTC);
a two-digit year is 20yy; a time without a year takes the Kafka time's (`_yearless`); a time
of day alone is not placed.

Bounds: lines longer than `max_line_chars`, objects with more than `max_keys` keys or nested
deeper than `max_depth`, and anything that does not parse are indexed unchanged; `parse` never
raises. Every parse is linear in the line's length (bounded repetitions, possessive where a
value is scanned). Cost on plain lines: a few character tests and one or two anchored regular
expressions.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import islice
from typing import Any

import orjson

from indexer.settings import ParsingSettings

# The level words of the layouts below. The expression takes any short word where a layout puts
# its level, and this set decides (one lookup, cheaper than alternatives in the expression).
_LEVELS = frozenset(
    [
        "trace",
        "debug",
        "info",
        "notice",
        "warn",
        "warning",
        "error",
        "err",
        "crit",
        "critical",
        "alert",
        "emerg",
        "emergency",
        "fatal",
        "panic",
        "severe",
        "fine",
        "finer",
        "finest",
        "dbg",
        "inf",
        "wrn",
        "ftl",
        "trc",
        "vrb",
        "verbose",
        "information",  # Windows CBS and event logs
        *(f"trace{n}" for n in range(1, 9)),  # Apache httpd 2.4's trace1 … trace8
    ]
)
_CLOCK = r"\d\d:\d\d:\d\d(?:[.,]\d{1,9})?"
_ZONE = r"(?:Z|[+-]\d\d:?\d\d| [+-]\d\d:?\d\d)?"  # Serilog's file sink puts a space before it
_MONTH = r"Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_MONTHS = {m: f"{n:02d}" for n, m in enumerate(_MONTH.split("|"), 1)}

# Each plain layout is found by its first character (the cheap dispatch in `_plain`) and then by
# one anchored expression; every repetition is bounded, so the cost is linear in the line.
#
# A line that begins with a digit: its time, then `_TAIL` where the level is.
_DIGIT_HEAD = re.compile(
    rf"(?P<iso>\d{{4}}[-/]\d\d[-/]\d\d[T ]{_CLOCK}{_ZONE})"  # ISO, nginx's 2026/12/01
    rf"|(?P<yy>\d\d/\d\d/\d\d) (?P<yyclock>{_CLOCK})"  # log4j `yy/MM/dd HH:mm:ss` (Spark)
    r"|(?P<ymd>\d{6}) (?P<hms>\d{6})(?= )"  # `yyMMdd HHmmss` (Hadoop 1, HDFS)
    r"|(?P<md>\d\d-\d\d) (?P<mdclock>\d\d:\d\d:\d\d\.\d{3})(?= )"  # Android logcat
    rf"|(?P<dd>\d\d)-(?P<mon>{_MONTH})-(?P<year>\d{{4}}) (?P<dmyclock>{_CLOCK})"  # Tomcat
    rf"|{_CLOCK}"  # a time of day alone (log4j2's and logback's defaults): not placed
    r"|\d{1,12}(?= \[)"  # log4j 1.x TTCC `%r [%t] %p`: milliseconds since start, not a time
)
# Where the level sits after a time: `<time> LEVEL`, `<time>, Info` (Windows CBS), `<time>
# [thread] LEVEL`, `<time> [LEVEL]`, `<time> PID LEVEL` (oslo.log, HDFS), `<time>  PID  TID L
# tag:` (logcat), `<time> - LEVEL` (ZooKeeper), `<time> - name - LEVEL -` (Python's logging
# cookbook), `<time>|LEVEL|` (NLog), `<time>\tLEVEL` (zap's console encoder), `<time> L/tag(`
# (logcat's `time` format). The word must be followed by a separator: `INFOrmix` is no level.
_TAIL = re.compile(
    r"(?P<sep>,? {1,40}|\t| - (?P<name>[^\s\]\[]{1,200} - )?|\|)"
    r"(?:(?P<pid>\d{1,10}(?: {1,10}\d{1,10})?) {1,10}|\[(?P<thread>[^\]]{1,80})\] {1,10})?"
    r"\[?(?P<word>[A-Za-z]{1,13}[1-8]?)\]?(?=[\s:|,/(\]]|$)"
)
# A line that begins with `[`: `[LEVEL] …`; Apache httpd's `[Sun Dec 04 04:47:44 2005] [error]`
# and 2.4's `[Fri Sep 09 10:42:29.902022 2011] [core:error]`; Serilog's console `[10:00:00
# INF]`; pino-pretty's `[10:00:00.123] INFO (42): …`, gunicorn's `[<time>] [42] [INFO]`, Flask's
# `[<time>] ERROR in app:`.
_BRACKET_HEAD = re.compile(
    r"\[(?:"
    rf"(?P<bare>[A-Za-z]{{3,13}})\](?=[\s:|]|$)"
    rf"|[A-Z][a-z]{{2}} (?P<mon>{_MONTH}) (?P<day>\d\d) (?P<clock>\d\d:\d\d:\d\d(?:\.\d{{1,6}})?)"
    r" (?P<year>\d{4})\] \[(?:[a-z_0-9]{1,40}:)?(?P<apache>[a-z]{4,6}[1-8]?)\]"
    rf"|{_CLOCK} (?P<serilog>[A-Z]{{3}})\]"
    rf"|(?P<time>(?:\d{{4}}-\d\d-\d\d[T ])?{_CLOCK}{_ZONE})\](?: \[\d{{1,10}}\])?"
    r" \[?(?P<word>[A-Za-z]{3,9})\]?(?=[\s:(]|$)"
    r")"
)
# A line that begins with a capital: klog/glog's `E1201 10:00:00.123456 `, Ruby's Logger `I,
# [<time> #42]  INFO -- `, logcat's `brief` `D/Tag( 42): `, syslog's `Dec  4 04:47:44 host
# prog[42]: ` followed by `<info>`, `[INFO]` or `INFO:` (RFC 3164 as files keep it; a bare
# `ALERT exited …`, as logrotate's cron script writes it through `logger`, is text), or a level
# word (`ERROR: …`, `WARNING:root:…`).
_UPPER_HEAD = re.compile(
    r"(?P<klog>[IWEF])(?P<kmonth>\d\d)(?P<kday>\d\d) (?P<kclock>\d\d:\d\d:\d\d\.\d{6}) "
    rf"|[DIWEFA], \[(?P<rtime>\d{{4}}-\d\d-\d\dT{_CLOCK}{_ZONE})(?: #\d{{1,10}})?\] {{1,6}}"
    r"(?P<ruby>[A-Z]{3,5}) -- "
    r"|(?P<logcat>[VDIWEFA])/[^\s(]{0,100}\( {0,9}\d{1,10}\): "
    rf"|(?P<mon>{_MONTH}) (?P<day>[ \d]\d) (?P<clock>\d\d:\d\d:\d\d)"
    r"(?: [^\s]{1,255} [^\s\[:]{1,100}(?:\[\d{1,10}\])?: "
    r"(?:<(?P<angle>[a-z]{4,7})>|\[(?P<bracket>[A-Za-z]{3,9})\]|(?P<upper>[A-Z]{3,9})(?=:))(?=[\s:]|$))?"
    r"|(?P<word>[A-Za-z]{3,13})(?=[\s:|]|$)"
)
# A line that begins with a lower-case word and a colon: winston's `info: …`, .NET's console
# `info: Microsoft.Hosting.Lifetime[14]`.
_LOWER_HEAD = re.compile(r"([a-z]{4,7}):(?= |$)")
_LOWER_LEVELS = frozenset(
    ["error", "warn", "info", "debug", "verbose", "silly", "notice", "warning", "crit", "alert",
     "emerg", "trce", "dbug", "fail"]
)  # fmt: skip
# RFC 5424 `<PRI>1 <ISO time>` and RFC 3164 `<PRI>Mmm dd HH:MM:SS`.
_SYSLOG_PRI = re.compile(
    r"<(?P<pri>\d{1,3})>(?:1 (?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d))"
    rf"|(?P<mon>{_MONTH}) (?P<day>[ \d]\d) (?P<clock>\d\d:\d\d:\d\d))?"
)
# Codes spelled out by their own logger's names (documented in the README's table).
_KLOG = {"I": "info", "W": "warning", "E": "error", "F": "fatal"}
# android.util.Log's priorities (VERBOSE … ASSERT) and logcat's F (fatal).
_LOGCAT = {"V": "verbose", "D": "debug", "I": "info", "W": "warn", "E": "error", "F": "fatal",
           "A": "assert"}  # fmt: skip
# Ruby's Logger::Formatter labels (`ANY` is Logger::UNKNOWN).
_RUBY = frozenset(["DEBUG", "INFO", "WARN", "ERROR", "FATAL", "ANY"])
# .NET's console formatter abbreviations that are not words (`info`, `warn`, `crit` stay).
_DOTNET = {"trce": "trace", "dbug": "debug", "fail": "error"}
# syslog severities (RFC 5424 §6.2.1) by the names syslog(3) and rsyslog write.
_SYSLOG = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_DIGIT_THIRD = frozenset(":/-[ 0123456789")
# The common case (`2026-12-01T10:00:00.123Z INFO …`, `2026-12-01 10:00:00.123 ERROR [x] …`):
# one short expression is half the cost of the general one below.
_ISO_LEVEL = re.compile(
    r"([0-9]{4}-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-5][0-9]"
    r"(?:[.,][0-9]{1,9})?(?:Z| ?[+-][0-9][0-9]:?[0-9][0-9])?)(?: {1,40}([A-Za-z]{3,9})[ :])?"
)
_SPACED_KEY = re.compile(r'"[ \t\r\n]+:')  # JSON's white space between a key and its `:`
_LEVEL_VALUE = re.compile(r'"?([A-Za-z]{1,12})\b')
# pino and bunyan's numeric levels, by their names (https://getpino.io/#/docs/api?id=levels).
_NUMERIC = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"}

_S6 = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}) {1,2}")
_STAMP = re.compile(
    r"(\d{4})[-/](\d\d)[-/](\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    r"\s?(Z|z|UTC|[+-]\d\d(?::?\d\d)?)?"
)
# Where a JSON or logfmt key goes. First key of a target in the line wins; the others stay
# under `json` with the keys that map to nothing.
# Targets are bits, so that the ones a line has met are one int.
LEVEL, MESSAGE, TIME, LOGGER, STACK, ERROR, ERROR_TYPE, TRACE, SPAN, TXN, THREAD, CALLER = (
    1 << n for n in range(12)
)
_TARGETS: dict[str, int] = {
    "level": LEVEL, "lvl": LEVEL, "severity": LEVEL, "levelname": LEVEL, "log.level": LEVEL,
    "loglevel": LEVEL, "@l": LEVEL,
    "msg": MESSAGE, "message": MESSAGE, "@m": MESSAGE,
    "ts": TIME, "time": TIME, "timestamp": TIME, "@timestamp": TIME, "@t": TIME, "t": TIME,
    "datetime": TIME,
    "logger": LOGGER, "logger_name": LOGGER, "log.logger": LOGGER,
    "stacktrace": STACK, "stack_trace": STACK, "stack": STACK, "error.stack_trace": STACK,
    "exception": STACK, "@x": STACK,
    "error": ERROR, "err": ERROR, "error.message": ERROR,
    "error.type": ERROR_TYPE, "error_type": ERROR_TYPE, "exception_class": ERROR_TYPE,
    "trace_id": TRACE, "traceId": TRACE, "trace.id": TRACE, "traceid": TRACE,
    "span_id": SPAN, "spanId": SPAN, "span.id": SPAN, "spanid": SPAN,
    "transaction.id": TXN, "transaction_id": TXN,
    "thread": THREAD, "thread_name": THREAD, "process.thread.name": THREAD,
    "caller": CALLER,
}  # fmt: skip
_is_target = frozenset(_TARGETS).__contains__
_KEY_STARTS = ("_", "@")  # besides letters
_ORIGIN = ("log", "origin", "file")
# The ECS field each other target fills: its parents under the event's root, and its name.
_FIELDS: dict[int, tuple[tuple[str, ...], str]] = {
    LOGGER: (("log",), "logger"),
    STACK: (("error",), "stack_trace"),
    ERROR: (("error",), "message"),
    ERROR_TYPE: (("error",), "type"),
    TRACE: (("trace",), "id"),
    SPAN: (("span",), "id"),
    TXN: (("transaction",), "id"),
    THREAD: (("process", "thread"), "name"),
}


class LineParser:
    """Parses `message` into ECS fields, in place. One per router; keeps no state per event.

    `within(stamp, ingest_seconds)` says whether a `YYYY-MM-DDTHH:MM:SS.mmmZ` stamp may replace
    `@timestamp` (route.py's bounds)."""

    def __init__(self, settings: ParsingSettings, within: Callable[[str, float], bool]) -> None:
        self._field = settings.field
        self._keep_original = settings.keep_original
        self._max_chars = settings.max_line_chars
        self._max_keys = settings.max_keys
        self._max_depth = settings.max_depth
        self._zone: tzinfo | None = None
        if settings.naive_time_zone != "UTC":
            from zoneinfo import ZoneInfo

            self._zone = ZoneInfo(settings.naive_time_zone)
        self._within = within

    def parse(self, event: dict[str, Any], ingest_seconds: float) -> str | None:
        """Add what the event's `message` says to `event`, and return the time of a plain line
        (`YYYY-MM-DDTHH:MM:SS.mmmZ`) for the caller to use as `@timestamp` if within its bounds
        (a JSON or logfmt line's time is checked with `within` and set here, since a time that
        is not used stays under `json`). Never raises; a line it cannot read leaves the event
        as it was."""
        message = event.get("message")
        if message.__class__ is not str or not message or len(message) > self._max_chars:
            return None
        try:
            if self._keep_original:
                _child(event, "event").setdefault("original", message)
            first = message[0]
            if first.isdigit():
                if message[4:5] == "-":
                    # The common layout first, with one short expression: `<ISO time> LEVEL `.
                    match = _ISO_LEVEL.match(message)
                    # (a time of 29 characters may be s6-log's prefix: `_other` sees to it)
                    if match is not None and len(match[1]) != 29:
                        word = match[2]
                        level: str | None = "" if word is None else word.lower()
                        if level not in _LEVELS:
                            # the other layouts after an ISO time (`_TAIL`), from its end
                            level = _tail_level(_TAIL.match(message, match.end(1)), False)
                            if level is None and "level=" in message:
                                level = _level_key(message)
                        if level is not None:
                            log = event.get("log")  # _set_level, inline
                            if log.__class__ is dict:
                                log.setdefault("level", level)
                            elif log is None:
                                event["log"] = {"level": level}
                        return self._iso(match[1])
                elif message[2:3] not in _DIGIT_THIRD:
                    return None  # an address (`10.42.…`), a number: no layout of ours begins so
            return self._other(event, message, first, ingest_seconds)
        except Exception:  # a line must never stop the pipeline
            return None

    def _iso(self, stamp: str) -> str | None:
        """`normalize` of a time `_ISO_LEVEL` matched (digits where digits belong), with its
        two common shapes cut out: already `…T…Z`, and milliseconds without a zone in UTC."""
        if len(stamp) == 24 and stamp[10] == "T" and stamp[23] == "Z" and stamp[19] == ".":
            return stamp
        if len(stamp) == 23 and stamp[19] in ".," and stamp[22] != "Z" and self._zone is None:
            return f"{stamp[:10]}T{stamp[11:19]}.{stamp[20:]}Z"
        return self.normalize(stamp)

    def _other(
        self, event: dict[str, Any], message: str, first: str, ingest_seconds: float
    ) -> str | None:
        body = message
        line_time = None
        if len(message) > 30 and message[19] == "." and message[10] == " ":
            s6 = _S6.match(message)
            if s6 is not None:
                line_time = s6[1]
                body = message[s6.end() :]
                first = body[:1]
        if first == "{":
            fields = self._json(body)
            if fields is not None:
                # No key twice, cheaply: with no white space before a `:`, each key is
                # followed by `":`, so as many `":` as keys (nested ones too) means none lost.
                keys = body.count('":')
                if (
                    (keys == len(fields) or keys == _keys(fields))
                    and _SPACED_KEY.search(body) is None
                ) or not _repeats(body):
                    return self._apply(event, fields, line_time, ingest_seconds)
                # A key twice (zap writes them): orjson kept only the last value. The line
                # stays whole, as a logfmt one does; its level is read when it is unambiguous.
                level = _single_level(body)
                if level is not None:
                    _set_level(event, level)
                return None if line_time is None else self.normalize(line_time)
        elif first.isalpha() and "=" in body:
            fields = self._logfmt(body)
            if fields is not None:
                return self._apply(event, fields, line_time, ingest_seconds)
        level, own = self._plain(body, first, ingest_seconds)
        if own is not None:
            line_time = own
        if level is None and "level=" in body:
            level = _level_key(body)
        if level is not None:
            _set_level(event, level)
        return None if line_time is None else self.normalize(line_time)

    def _plain(self, body: str, first: str, ingest: float) -> tuple[str | None, str | None]:
        """The level and the time (`YYYY-MM-DD HH:MM:SS…`, for `normalize`) of a plain line's
        layout, each None when absent. One character test chooses the one expression to try."""
        if first.isdigit():
            return self._digit_led(body, ingest)
        if first == "[":
            return _bracket_led(body)
        if "A" <= first <= "Z":
            return self._upper_led(body, ingest)
        if first == "<":
            return self._syslog_pri(body, ingest)
        if "a" <= first <= "z" and ":" in body[4:8]:
            head = _LOWER_HEAD.match(body)
            if head is not None and head[1] in _LOWER_LEVELS:
                return _DOTNET.get(head[1], head[1]), None
        return None, None

    def _digit_led(self, body: str, ingest: float) -> tuple[str | None, str | None]:
        head = _DIGIT_HEAD.match(body)
        if head is None:
            return None, None
        stamp = head["iso"]
        if stamp is None:
            stamp = self._digit_time(head, ingest)
        return _tail_level(_TAIL.match(body, head.end()), head["md"] is not None), stamp

    def _upper_led(self, body: str, ingest: float) -> tuple[str | None, str | None]:
        # A sentence (`Connection reset…`) is no layout but a month's: no expression for it
        sentence = body[1:2].islower() and body[:3] not in _MONTHS
        head = None if sentence else _UPPER_HEAD.match(body)
        if head is None:
            return None, None
        word = head["word"]
        if word is not None:  # at the start of a line only an upper-case word counts
            return (word.lower() if word.isupper() and word.lower() in _LEVELS else None), None
        if head["klog"] is not None:
            stamp = self._yearless(head["kmonth"], head["kday"], head["kclock"], ingest)
            return _KLOG[head["klog"]], stamp
        if head["ruby"] is not None:
            ruby = head["ruby"]
            return (ruby.lower() if ruby in _RUBY else None), head["rtime"]
        if head["logcat"] is not None:
            return _LOGCAT[head["logcat"]], None
        stamp = self._yearless(
            _MONTHS[head["mon"]], head["day"].replace(" ", "0"), head["clock"], ingest
        )
        word = head["angle"] or head["bracket"] or head["upper"]
        level = None if word is None else word.lower()
        return (level if level in _LEVELS else None), stamp

    def _syslog_pri(self, body: str, ingest: float) -> tuple[str | None, str | None]:
        head = _SYSLOG_PRI.match(body)
        if head is None or int(head["pri"]) > 191:  # facility 23, severity 7 at most
            return None, None
        stamp = head["iso"]
        if head["mon"] is not None:
            stamp = self._yearless(
                _MONTHS[head["mon"]], head["day"].replace(" ", "0"), head["clock"], ingest
            )
        return _SYSLOG[int(head["pri"]) & 7], stamp

    def _digit_time(self, head: re.Match[str], ingest: float) -> str | None:
        """`YYYY-MM-DD HH:MM:SS…` of a digit-led head that is not ISO: a two-digit year is
        20yy, a missing year is `_yearless`'s; a time of day alone is not placed (None)."""
        if head["yy"] is not None:
            date = head["yy"]
            return f"20{date[:2]}-{date[3:5]}-{date[6:]} {head['yyclock']}"
        if head["ymd"] is not None:
            date, clock = head["ymd"], head["hms"]
            return f"20{date[:2]}-{date[2:4]}-{date[4:]} {clock[:2]}:{clock[2:4]}:{clock[4:]}"
        if head["md"] is not None:
            date = head["md"]
            return self._yearless(date[:2], date[3:], head["mdclock"], ingest)
        if head["dd"] is not None:
            return f"{head['year']}-{_MONTHS[head['mon']]}-{head['dd']} {head['dmyclock']}"
        return None

    def _yearless(self, month: str, day: str, clock: str, ingest: float) -> str:
        """`YYYY-MM-DD HH:MM:SS…` of a time without a year (syslog, logcat, klog): the year of
        the event's Kafka time (in `naive_time_zone`), or the one before or after when that
        puts the line more than six months from it (a December line read in January). The
        routing bounds then decide whether it is used: a line they refuse keeps Kafka's day."""
        if self._zone is None:
            now = time.gmtime(ingest)
            year, now_month = now.tm_year, now.tm_mon
        else:
            local = datetime.fromtimestamp(ingest, self._zone)
            year, now_month = local.year, local.month
        distance = int(month) - now_month
        if distance > 6:
            year -= 1
        elif distance < -6:
            year += 1
        return f"{year:04d}-{month}-{day} {clock}"

    def _json(self, body: str) -> dict[str, Any] | None:
        if body[-1] != "}" and body.rstrip()[-1:] != "}":
            return None
        try:
            obj: dict[str, Any] = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if len(obj) > self._max_keys:  # a dict: the body begins with `{`
            return None
        if body.count("{") + body.count("[") > self._max_depth and _deeper(obj, self._max_depth):
            return None
        return obj

    def _logfmt(self, body: str) -> dict[str, Any] | None:
        """The pairs of a line made of `key=value` pairs and nothing else, one space apart as
        logfmt encoders write them (a value with spaces, `=` or `"` double-quoted, with Go's
        escapes), or None."""
        fields = _pairs(body.rstrip())
        return None if fields is None or len(fields) > self._max_keys else fields

    def _apply(
        self,
        event: dict[str, Any],
        fields: dict[str, Any],
        line_time: str | None,
        ingest_seconds: float,
    ) -> str | None:
        """Put the mapped keys in their ECS fields, in the line's order (which fixes the order
        of the fields they add), and the rest under `json`; the line's time when within the
        bounds."""
        name = self._field
        rest = event.get(name)
        if rest is not None and rest.__class__ is not dict:
            return None  # the shipper's own `json` value: leave the line as it is
        stamp = None
        met = 0  # the targets met so far: the first key of a target decides, the others stay
        # Only the keys that map somewhere are visited, in the line's order (a C-level filter;
        # a list, since they are deleted); what is left of `fields` is what goes under `json`.
        for key in list(filter(_is_target, fields)):
            target = _TARGETS[key]
            if met & target:
                continue
            met |= target
            value = fields[key]
            if target == TIME:
                stamp = self.normalize(value) if value.__class__ is str else _epoch(value)
                if stamp is not None and self._within(stamp, ingest_seconds):
                    del fields[key]
                else:
                    stamp = None
                continue
            if value.__class__ is not str or not value:
                if target != LEVEL or value.__class__ is not int or value not in _NUMERIC:
                    continue
                value = _NUMERIC[value]
            if target == MESSAGE:
                event["message"] = value
            elif target == LEVEL:
                # As `_set_level` does for a plain line: an event without `log` gets one.
                log = event.get("log")
                if log is None and len(value) <= 32:
                    log = event["log"] = {}
                if len(value) > 32 or log.__class__ is not dict or "level" in log:
                    continue
                log["level"] = value.lower()
            elif target == CALLER:
                file, _, line = value.rpartition(":")
                # ASCII digits only, and few: `isdigit` alone takes `²`, which `int` refuses
                if not (
                    file
                    and line.isascii()
                    and line.isdigit()
                    and len(line) <= 9
                    and _put_origin(event, file, int(line))
                ):
                    continue
            else:
                parents, field = _FIELDS[target]
                if not _put(event, parents, field, value):
                    continue
            del fields[key]
        if stamp is None and line_time is not None:
            stamp = self.normalize(line_time)
            if stamp is not None and not self._within(stamp, ingest_seconds):
                stamp = None
        if fields:
            if rest:
                for key, value in fields.items():
                    rest.setdefault(key, value)
            else:
                event[name] = fields
        return stamp

    def normalize(self, text: str) -> str | None:
        """`YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC, milliseconds: what a `date` field keeps) of an
        ISO-8601-like time, or None. A stamp already in that shape is returned as it is."""
        if len(text) == 24 and text[10] == "T" and text[23] == "Z" and text[19] == ".":
            return text if text[17:19] < "60" else None
        match = _STAMP.fullmatch(text)
        if match is None:
            return None
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        if second >= "60":
            return None
        millis = ((fraction or "") + "000")[:3]
        if zone in ("Z", "z", "UTC") or (zone is None and self._zone is None):
            return f"{year}-{month}-{day}T{hour}:{minute}:{second}.{millis}Z"
        try:
            if zone is None:
                local = self._zone
            else:
                minutes = int(zone[1:3]) * 60 + (int(zone[-2:]) if len(zone) > 3 else 0)
                local = timezone(timedelta(minutes=-minutes if zone[0] == "-" else minutes))
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second),
                int(millis) * 1000, tzinfo=local,
            )  # fmt: skip
        except ValueError:
            return None
        return _format(moment.astimezone(UTC))


def _level_key(body: str) -> str | None:
    """The value of a `level=` key early in a line (among the first 256 characters), or None."""
    at = body.find("level=", 0, 256)
    if at >= 0 and (at == 0 or body[at - 1] in " \t"):
        found = _LEVEL_VALUE.match(body, at + 6)
        if found is not None:
            return found[1].lower()
    return None


def _tail_level(tail: re.Match[str] | None, logcat: bool) -> str | None:
    """The level `_TAIL` found after a time, or None. `logcat`: the time was logcat's, the only
    one after which a single letter is a level."""
    if tail is None:
        return None
    word, thread = tail["word"], tail["thread"]
    if thread is not None and thread.lower() in _LEVELS:
        return thread.lower()  # `<time> [ERROR] …`: the bracket is the level
    if len(word) == 1:
        return _LOGCAT.get(word) if logcat else None
    level = word.lower()
    # After a pid, a logger name or NLog's `|`, only the upper-case word of those layouts
    if level not in _LEVELS or (
        (tail["pid"] is not None or tail["sep"][:2] in (" -", "|")) and not word.isupper()
    ):
        return None
    return level


def _bracket_led(body: str) -> tuple[str | None, str | None]:
    head = _BRACKET_HEAD.match(body)
    if head is None:
        return None, None
    level = (head["bare"] or head["apache"] or head["serilog"] or head["word"]).lower()
    stamp = head["time"]
    if stamp is None and head["year"] is not None:  # Apache httpd
        stamp = f"{head['year']}-{_MONTHS[head['mon']]}-{head['day']} {head['clock']}"
    elif stamp is not None and stamp[2] == ":":
        stamp = None  # a time of day alone is not placed
    return (level if level in _LEVELS else None), stamp


def _epoch(value: Any) -> str | None:
    """The time of a number of seconds, milliseconds, microseconds or nanoseconds since the
    epoch, or None."""
    if value.__class__ is not int and value.__class__ is not float:
        return None
    seconds = float(value)
    if not -1e20 < seconds < 1e20:
        return None
    while seconds > 1e11:  # milliseconds, microseconds or nanoseconds since the epoch
        seconds /= 1000
    try:
        return _format(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _set_level(event: dict[str, Any], level: str) -> None:
    log = event.get("log")
    if log.__class__ is dict:
        log.setdefault("level", level)
    elif log is None:
        event["log"] = {"level": level}


def _put(event: dict[str, Any], parents: tuple[str, ...], name: str, value: Any) -> bool:
    """Set `name` under the `parents` path of `event` unless something is already there (the
    shipper's value wins) or a non-object sits on the way. True when set."""
    node = event
    for key in parents:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif child.__class__ is not dict:
            return False
        node = child
    if name in node:
        return False
    node[name] = value
    return True


def _put_origin(event: dict[str, Any], file: str, line: int) -> bool:
    """`log.origin.file.name` and `.line` of a `caller`, as `_put` sets them: the name first,
    then the line (unless the shipper set one)."""
    log = event.get("log")
    if log.__class__ is dict and "origin" not in log:  # the usual case
        names: dict[str, Any] = {"name": file}
        log["origin"] = {"file": names}
    elif _put(event, _ORIGIN, "name", file):
        names = event["log"]["origin"]["file"]
    else:
        return False
    names.setdefault("line", line)
    return True


def _child(event: dict[str, Any], key: str) -> dict[str, Any]:
    child = event.get(key)
    if child.__class__ is not dict:
        child = {} if child is None else {"original": child}
        event[key] = child
    return child


def _pairs(line: str) -> dict[str, str] | None:
    """The pairs of a logfmt line, or None. Split on spaces (cheaper than an expression that
    finds the pairs); a quoted value with spaces is found in the line by `_closing_end` and its
    tokens skipped, so each character is looked at a bounded number of times. A repeated key
    makes it None: one field cannot hold both values, and the line stays whole rather than lose
    one."""
    fields: dict[str, str] = {}
    tokens = line.split(" ")
    pairs = enumerate(tokens)
    # Where a token begins is worked out only for a quoted value with spaces, from the last
    # such place on: each token is counted once, and the usual line pays nothing for it.
    mark_index = mark_at = 0
    for index, token in pairs:
        key, equals, value = token.partition("=")
        if not equals or '"' in key or not (key[:1].isalpha() or key[:1] in _KEY_STARTS):
            return None
        if value[:1] == '"':
            if len(value) > 1 and value[-1] == '"' and "\\" not in value:
                value = value[1:-1]  # the common quoted value: no space, no escape
            elif _closed(value, 2):
                value = _unquote(value)
            else:
                # The first later token that ends with an unescaped `"` closes the value (each
                # join of tokens used to copy the value so far: quadratic in their number).
                start = mark_at + sum(map(len, tokens[mark_index:index])) + index - mark_index
                opening = start + len(key) + 1
                end = _closing_end(line, opening + 1)
                if end is None:
                    return None
                skipped = line.count(" ", opening, end)
                next(islice(pairs, skipped - 1, None))  # the value's other tokens
                mark_index, mark_at = index + skipped + 1, end + 1
                value = _unquote(line[opening:end])
        elif '"' in value or "=" in value:
            return None
        if key in fields:
            return None
        fields[key] = value
    return fields


# A backslash or a quote: what `_closing_end` stops at.
_SPECIAL = re.compile(r'[\\"]')
# The rest of a quoted value from its first backslash or inner quote, to just after its closing
# quote: each character is taken by exactly one branch (a plain one, an escape with the
# character it escapes, a quote that does not close), so the expression never has two ways to
# match and backs off at most once per character: linear, with no possessive quantifier.
_REST_OF_QUOTED = re.compile(r'(?:[^"\\]|\\.|"(?! |\n?\Z))*"(?= |\n?\Z)', re.S)


def _closing_end(line: str, start: int) -> int | None:
    """Where the quoted value that starts at `start` ends (just after its closing `"`), or None.

    The closing `"` is one followed by a space or the end of the line (a trailing newline
    counts as the end) and not escaped: a backslash escapes the character after it, whatever it
    is, as Go's quoting writes them. Linear: the usual value (no backslash, no inner quote) is
    one search; any other is one match of `_REST_OF_QUOTED` in C, never a Python step per
    escape (a value of `\\"` tokens cost about seven plain values of its length that way).
    (A possessive regular expression did this until Python 3.11.2's `re` was found to get
    possessive quantifiers wrong: the image's Debian Python missed every such value.)"""
    found = _SPECIAL.search(line, start)
    if found is None:
        return None
    where = found.start()
    if line[where] == '"':
        after = line[where + 1 : where + 3]
        if after == "" or after[0] == " " or after == "\n":
            return where + 1
    rest = _REST_OF_QUOTED.match(line, where)
    return rest.end() if rest else None


def _closed(token: str, shortest: int) -> bool:
    """Whether a token (at least `shortest` characters: 2 for the one that opens the value
    with its `"`) ends with an unescaped `"`. A token holds no space, so the backslashes that
    escape its last `"` are all in it: the look costs the token's length, once."""
    if len(token) < shortest or token[-1] != '"':
        return False
    backslashes = len(token) - 1 - len(token[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _unquote(value: str) -> str:
    """A logfmt quoted value: Go's strconv quoting, which JSON's string syntax covers."""
    if "\\" not in value:
        return value[1:-1]
    try:
        text = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value[1:-1]
    return text if text.__class__ is str else value[1:-1]


class _Repeated(Exception):
    """A JSON object with a key twice."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Repeated
    return result


def _repeats(body: str) -> bool:
    """Whether an object of the JSON line `body` has a key twice: the line read again, pair by
    pair, by the standard library (only when the cheap count in `_other` cannot tell: a `":`
    inside a string, `"key" : value`, or a key really twice)."""
    try:
        json.loads(body, object_pairs_hook=_unique)
    except _Repeated:
        return True
    except ValueError:  # orjson read it; whatever the standard library refuses is not ours
        return False
    return False


def _keys(obj: Any) -> int:
    """The number of keys of every object in `obj`, nested ones included."""
    count = 0
    stack = [obj]
    while stack:
        node = stack.pop()
        if node.__class__ is dict:
            count += len(node)
            stack.extend(v for v in node.values() if v.__class__ in (dict, list))
        else:
            stack.extend(v for v in node if v.__class__ in (dict, list))
    return count


def _single_level(body: str) -> str | None:
    """The level of a JSON line with a repeated key: the value of its top-level level keys
    (`level`, `severity`…) when they all say the same, else None."""
    pairs: list[tuple[str, Any]] = json.loads(body, object_pairs_hook=lambda p: p)
    values = {repr(v) for k, v in pairs if _TARGETS.get(k) == LEVEL}
    if len(values) != 1:
        return None
    value = next(v for k, v in pairs if _TARGETS.get(k) == LEVEL)
    if value.__class__ is int and value in _NUMERIC:
        return _NUMERIC[value]
    if value.__class__ is str and 0 < len(value) <= 32:
        return str(value).lower()
    return None


def _deeper(obj: Any, limit: int) -> bool:
    """Whether `obj` nests more than `limit` levels of objects and arrays."""
    level = [obj]
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        nested: list[Any] = []
        for node in level:
            values = node.values() if node.__class__ is dict else node
            nested.extend(v for v in values if v.__class__ in (dict, list))
        level = nested
    return False
