"""Route: decide each event's daily index and add the Kubernetes fields its path implies.

Index names:
    <prefix>-<namespace>_<app>-<yyyy.MM.dd>   events whose path matched a layout
    <prefix>-unmatched-<yyyy.MM.dd>          events whose path matched none (or had none)
    <prefix>-deadletter-<yyyy.MM.dd>         messages that could not be indexed (see dead_letter_shape.py)

Every name reads back one way. The prefix and the namespace (a DNS-1123 label) never contain
`_`, so the first `_` after `<prefix>-` ends the namespace, and the app is what lies between it
and the fixed-width `-<yyyy.MM.dd>`. That holds although apps, being label values, may contain
`_` themselves: `a-b`/`c`, `a`/`b-c` and `a`/`b_c` get three indices. The unmatched and
dead-letter indices (no `_`) can never be a namespace's, and the shared index's `_shared` can
never be an app (apps begin with an alphanumeric). `indexer.admin.naming` reads names back by
these rules.

The app is written in lower case, as index names must be: `Cart-API` and `cart-api` of one
namespace share one index, and `service.name` keeps each one's own spelling to tell them apart.

The day is the UTC date of the event's own `@timestamp`. An event without a usable one, or stamped
beyond the configured bounds, goes to the day of its Kafka timestamp: that keeps routing a pure
function of the message, so a re-delivered event always meets its first copy (same index, same id).

An `@timestamp` that is not a date (DayResolver's docstring says exactly which values are) counts
as missing: the cluster would drop it (`ignore_malformed`) and the line would be in no
time-filtered view. It is moved to `indexer_timestamp.original` (with `indexer_timestamp.reason`
`not_a_date`; both mapped as keywords), `@timestamp` becomes the Kafka time, which also picks
the day, and `indexer_events_timestamp_not_a_date_total` counts it.

Before the day is chosen, the line in `message` is parsed (structured.py, unless `parsing` turns
it off for the event's namespace or app): its level and fields are added, and its own time, when
it parses and lies within the same bounds, replaces filebeat's `@timestamp` (the time of reading)
and so picks the day. The line's time is part of the message and the bounds are measured from the
Kafka timestamp, so the rule stays a pure function of the message. The `_id` is computed before
(transform.py), from the message as received.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from indexer.identity import Identity, IdentityResolver, PathCache, index_app
from indexer.settings import ParsingSettings, RoutingSettings
from indexer.structured import LineParser

_DAY_SECONDS = 86400

NOT_A_DATE = "not_a_date"
"""`indexer_timestamp.reason` of an event whose `@timestamp` was not a date."""
TIMESTAMP_FIELD = "indexer_timestamp"
"""Ours (like `indexer_salvage`): where a set-aside `@timestamp` goes (index templates map it)."""

# What DayResolver accepts as a date; see its docstring. ASCII digits only (`\d` would take
# other scripts' digits, which neither the cluster nor a Rust port would).
_MINUTE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")
_TAIL = re.compile(r":[0-5][0-9](?:\.[0-9]{1,9})?Z")
_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-5][0-9](?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_MAX_OFFSET_SECONDS = 18 * 3600  # java.time's ZoneOffset range, which both products parse with


def day_of_epoch(seconds: float) -> str:
    return time.strftime("%Y.%m.%d", time.gmtime(seconds))


def iso_timestamp(seconds: float) -> str:
    """`2026-11-26T12:00:00.000Z`: the shape filebeat writes."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def deadletter_index(prefix: str, seconds: float) -> str:
    """The dead-letter index for a message with this Kafka timestamp."""
    return f"{prefix}-deadletter-{day_of_epoch(seconds)}"


class DayResolver:
    """Finds the index day of an event. Caches per minute, so the common case (filebeat's
    `2023-11-20T14:37:56.612Z`) is a slice, one dictionary hit, a set hit and a comparison.

    Which `@timestamp` values are dates (the rule a port of this class must keep exactly): a
    string, all ASCII, that matches

        YYYY-MM-DD[THH:MM[:SS[.F]]][Z | +HH:MM | -HH:MM | +HHMM | -HHMM]

    where every letter is one ASCII digit, F is 1 to 9 digits and SS is 00 to 59 (no leap
    second), that names a real calendar date and time (Python's `datetime`: month 1-12, the
    month's days, hour 0-23, minute 0-59; year 1-9999) and whose offset is at most 18 hours
    (java.time's limit). Both Elasticsearch and OpenSearch store every such value as that same
    instant (their default `strict_date_optional_time||epoch_millis`; no zone means UTC, as
    here). Values outside it that a product might still take (a year alone, a number as
    epoch_millis) are set aside as well: routing could not place them. Anything else (another type, `2026-12-01T10:00garbage!!Z`, `…T10:00:61.000Z`,
    `…T10:00+01:00Z`, a space for the `T`) is not a date: `day` returns None for it.

    The fast path (a string ending in `Z`, at least 20 characters) looks up the first 16
    characters as a minute and checks the rest against `:SS[.F]Z` through a set of tails
    already seen; anything else takes the full rule above."""

    def __init__(self, max_past: timedelta, max_future: timedelta) -> None:
        self._max_past = max_past.total_seconds()
        self._max_future = max_future.total_seconds()
        self._minutes: dict[str, tuple[str, float, float] | None] = {}
        self._tails: set[str] = set()
        self._ingest_days: dict[int, str] = {}
        self.redated = 0
        self.last_stamp: str | None = None
        """The last timestamp used for routing (parsed only when someone asks)."""

    def own_day(self, stamp: str, ingest_seconds: float) -> str | None:
        """The day of a `YYYY-MM-DDTHH:MM:SS.mmmZ` stamp that is a real time within the
        bounds, or None."""
        try:
            minute = self._minutes[stamp[:16]]
        except KeyError:
            minute = self._parse_minute(stamp[:16])
        if (
            minute is not None
            and minute[1] <= ingest_seconds <= minute[2]
            and (stamp[16:] in self._tails or self._tail(stamp))
        ):
            self.last_stamp = stamp
            return minute[0]
        return None

    def within(self, stamp: str, ingest_seconds: float) -> bool:
        """Whether `own_day` has a day for `stamp`."""
        return self.own_day(stamp, ingest_seconds) is not None

    def day(self, stamp: object, ingest_seconds: float) -> str | None:
        """`yyyy.MM.dd` of `stamp` in UTC, or of `ingest_seconds` when `stamp` is None or a date
        outside the bounds (counted in `redated`); None when `stamp` is not a date (see the
        class docstring): the caller sets it aside and routes by `ingest_day`."""
        if type(stamp) is str and len(stamp) >= 20 and stamp[-1] == "Z":
            try:
                minute = self._minutes[stamp[:16]]
            except KeyError:
                minute = self._parse_minute(stamp[:16])
            # `own_day`, inline (the hot path). Bounds are checked to the minute (they are hours
            # or days wide), as the range of ingestion times that accept it: no arithmetic.
            if minute is not None and (stamp[16:] in self._tails or self._tail(stamp)):
                if minute[1] <= ingest_seconds <= minute[2]:
                    self.last_stamp = stamp
                    return minute[0]
                self.redated += 1
                return self.ingest_day(ingest_seconds)
        if stamp is not None:
            seconds = date_seconds(stamp)
            if seconds is None:
                return None
            if ingest_seconds - self._max_past <= seconds <= ingest_seconds + self._max_future:
                self.last_stamp = stamp  # type: ignore[assignment]  # date_seconds: a str
                return day_of_epoch(seconds)
        self.redated += 1
        return self.ingest_day(ingest_seconds)

    def ingest_day(self, seconds: float) -> str:
        key = int(seconds // _DAY_SECONDS)
        name = self._ingest_days.get(key)
        if name is None:
            name = self._ingest_days[key] = day_of_epoch(seconds)
        return name

    def _tail(self, stamp: str) -> bool:
        """Whether what follows the minute is `:SS[.F]Z`; remembers tails that are."""
        if _TAIL.fullmatch(stamp, 16) is None:
            return False
        if len(self._tails) > 100_000:
            self._tails.clear()
        self._tails.add(stamp[16:])
        return True

    def _parse_minute(self, minute: str) -> tuple[str, float, float] | None:
        """The minute's day and the ingestion times within whose bounds it lies."""
        parsed = None
        if _MINUTE.fullmatch(minute) is not None:
            try:
                start = datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
            except ValueError:
                pass
            else:
                seconds = start.timestamp()
                day = start.strftime("%Y.%m.%d")
                parsed = (day, seconds - self._max_future, seconds + self._max_past)
        if len(self._minutes) > 100_000:
            self._minutes.clear()
        self._minutes[minute] = parsed
        return parsed


def date_seconds(stamp: object) -> float | None:
    """Epoch seconds of a `@timestamp` that is a date by DayResolver's rule, else None."""
    if type(stamp) is not str or not stamp.isascii() or _DATE.fullmatch(stamp) is None:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        parsed = parsed.replace(tzinfo=UTC)
    elif abs(offset.total_seconds()) > _MAX_OFFSET_SECONDS:
        return None
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError):  # year 1 with an offset: before what a date can hold
        return None


def stamp_seconds(stamp: str) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (`Z` or an offset, UTC if none), or None."""
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Route:
    """What every event from one path gets: its index base and its Kubernetes fields, also as
    the bytes `,"kubernetes":{…},"service":{…}` that encode_event splices into a document."""

    base: str
    identity: Identity
    kubernetes: dict[str, Any]
    service: dict[str, str]
    fields: bytes
    parse: bool


class Router:
    """Routes and enriches events. One per pipeline; not thread-safe (it caches per path)."""

    def __init__(self, settings: RoutingSettings, parsing: ParsingSettings | None = None) -> None:
        parsing = parsing or ParsingSettings()
        self._prefix = settings.index_prefix
        self._identities = IdentityResolver(settings.layouts)
        self._days = DayResolver(settings.max_past, settings.max_future)
        self._parser = LineParser(parsing, self._days.within) if parsing.enabled else None
        self._unparsed = frozenset(parsing.disabled_for)
        self._bound = PathCache()
        self._routes: dict[str, Route | None] = self._bound.entries
        self.unmatched = 0
        self.not_a_date = 0

    @property
    def last_event_seconds(self) -> float | None:
        """`@timestamp` of the last event routed by its own time, in epoch seconds."""
        stamp = self._days.last_stamp
        return None if stamp is None else stamp_seconds(stamp)

    def take_counters(self) -> tuple[int, int, int]:
        """Events routed as unmatched, by ingestion date, and with an `@timestamp` that was not a
        date (also among the second) since the last call."""
        counts = (self.unmatched, self._days.redated, self.not_a_date)
        self.unmatched = self._days.redated = self.not_a_date = 0
        return counts

    def _not_a_date(self, event: dict[str, Any], stamp: object, ingest_seconds: float) -> str:
        """Set aside an `@timestamp` that is not a date: the Kafka time replaces it and picks the
        day; the value is kept as it came (a string) or as its JSON text (any other type)."""
        original = stamp if type(stamp) is str else orjson.dumps(stamp).decode()
        event[TIMESTAMP_FIELD] = {"original": original, "reason": NOT_A_DATE}
        event["@timestamp"] = iso_timestamp(ingest_seconds)
        self.not_a_date += 1
        self._days.redated += 1
        return self._days.ingest_day(ingest_seconds)

    def count_native(self, unmatched: int, redated: int, stamp: str | None) -> None:
        """Add what the native core routed in a read to the counters, and the last stamp it
        routed by (indexer/core.py)."""
        self.unmatched += unmatched
        self._days.redated += redated
        if stamp is not None:
            self._days.last_stamp = stamp

    def route(self, event: dict[str, Any], ingest_seconds: float) -> str:
        """The index for `event`; adds `kubernetes.*` and `service.name` when the path tells,
        the fields its line gives (structured.py), and an `@timestamp` of the ingestion time when
        the event has none (Kibana needs one)."""
        index, spliced = self.place(event, ingest_seconds)
        if spliced is not None:
            event["kubernetes"] = spliced.kubernetes
            event["service"] = spliced.service
        return index

    def place(self, event: dict[str, Any], ingest_seconds: float) -> tuple[str, Route | None]:
        """`route` for the hot path: the Route whose `fields` the document still needs, when
        the event has neither `kubernetes` nor `service` (filebeat's own inputs), else None
        (the fields were merged into the event, or the path matched no layout).

        Splicing the prepared bytes instead of adding two keys saves growing the event's dict
        and serialising the same two objects again for every event."""
        try:  # the hot path: a path seen before; any other shape is the rare case
            route = self._routes[event["log"]["file"]["path"]]
        except (KeyError, TypeError):
            route = self._route(event)
        day = None
        if self._parser is not None and (route is None or route.parse):
            own = self._parser.parse(event, ingest_seconds)
            if own is not None:
                day = self._days.own_day(own, ingest_seconds)
                if day is not None:
                    event["@timestamp"] = own
        if day is None:
            stamp = event.get("@timestamp")
            if stamp is None:
                event["@timestamp"] = iso_timestamp(ingest_seconds)
            day = self._days.day(stamp, ingest_seconds)
            if day is None:
                day = self._not_a_date(event, stamp, ingest_seconds)
        if route is None:
            self.unmatched += 1
            return f"{self._prefix}-unmatched-{day}", None
        if "kubernetes" in event or "service" in event:
            _enrich(event, route.identity)
            return route.base + day, None
        return route.base + day, route

    def _route(self, event: dict[str, Any]) -> Route | None:
        log = event.get("log")
        if type(log) is not dict:
            return None
        file = log.get("file")
        if type(file) is not dict:
            return None
        path = file.get("path")
        if type(path) is not str:
            return None
        return self.route_of(path)

    def route_of(self, path: str) -> Route | None:
        """The Route of events read from `path` (cached), or None when it matches no layout.
        The native core (indexer/core.py) registers what this says for each new path."""
        try:
            return self._routes[path]
        except KeyError:
            pass
        identity = self._identities.resolve(path)
        route = None
        if identity is not None:
            prepared: dict[str, Any] = {}
            _enrich(prepared, identity)
            kubernetes, service = prepared["kubernetes"], prepared["service"]
            route = Route(
                f"{self._prefix}-{identity.namespace}_{index_app(identity.app)}-",
                identity,
                kubernetes,
                service,
                b',"kubernetes":%b,"service":%b'
                % (orjson.dumps(kubernetes), orjson.dumps(service)),
                self._parses(identity),
            )
        self._bound.put(path, route)
        return route

    def _parses(self, identity: Identity) -> bool:
        unparsed = self._unparsed
        return not unparsed or (
            identity.namespace not in unparsed
            and f"{identity.namespace}/{identity.app}".lower()
            not in {name.lower() for name in unparsed}
        )

    def deadletter_index(self, ingest_seconds: float) -> str:
        return f"{self._prefix}-deadletter-{self._days.ingest_day(ingest_seconds)}"


def _enrich(event: dict[str, Any], identity: Identity) -> None:
    kubernetes = event.get("kubernetes")
    if type(kubernetes) is not dict:
        # A non-object value here would make the document unindexable next to ours; keep it.
        kubernetes = {} if kubernetes is None else {"original": kubernetes}
        event["kubernetes"] = kubernetes
    kubernetes["namespace"] = identity.namespace
    if identity.pod is not None:
        _sub(kubernetes, "pod")["name"] = identity.pod
    if identity.container is not None:
        _sub(kubernetes, "container")["name"] = identity.container
    _sub(event, "service")["name"] = identity.app


def _sub(parent: dict[str, Any], key: str) -> dict[str, Any]:
    child = parent.get(key)
    if type(child) is not dict:
        child = {} if child is None else {"original": child}
        parent[key] = child
    return child
