"""`indexer logs -f`: new lines as they become searchable, none missed, none twice, under one
stated rule.

**The rule.** Every document carries `event.ingested`, the time the indexer took its batch from
Kafka (encode.py). A line is shown if it becomes searchable within `lateness` (default 30 s) of
its `event.ingested`. A real index makes documents searchable only at its next refresh (5 s in
our template), after a bulk that may be retried; lines of one app can also reach the cluster out
of the order of their own times (two partitions, two indexer replicas, a lagging consumer). None
of that matters while each line is searchable within the bound. Clocks of the indexer replicas
and of the reader count against it too. A line that takes longer (one parked for an hour behind
a refusing index, docs/failure-handling.md) is not shown by `-f`; `indexer logs --from …` reads it.

**How.** Each poll searches `event.ingested >= W - lateness`, where W is the highest
`event.ingested` seen so far (at the start: the reader's clock when the first read began), in
the order `event.ingested`, then the total order of query.py, paged with `search_after`. A line
becoming searchable after a poll has an `event.ingested` above W - lateness (it was stamped at
most `lateness` before it became searchable, and W is never ahead of the clock), so a later
poll finds it. Lines are told apart by their Kafka record (`kafka.topic`, `kafka.partition`,
`kafka.offset`, which every document of ours carries; `_index`/`_id` otherwise), held only
while they lie inside the window: memory is the lines of one `lateness`, whatever runs for how
long. The pattern covers every day's index, so a new day's index, and a late line routed to an
older day, are found without a restart.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from indexer.cluster import SearchClient
from indexer.logs.paging import Hit, scan
from indexer.logs.query import LogQuery, sort

DEFAULT_LATENESS = 30.0
DEFAULT_INTERVAL = 1.0
Key = tuple[Any, ...]


def record_key(hit: Hit) -> Key:
    """The Kafka record a document came from (its identity across reads)."""
    kafka = (hit.get("_source") or {}).get("kafka")
    if isinstance(kafka, dict) and "offset" in kafka:
        return (kafka.get("topic"), kafka.get("partition"), kafka.get("offset"))
    return (hit.get("_index"), hit.get("_id"))


def ingested_ms(hit: Hit) -> int | None:
    """`event.ingested` of a hit's source in epoch milliseconds, or None."""
    event = (hit.get("_source") or {}).get("event")
    stamp = event.get("ingested") if isinstance(event, dict) else None
    if not isinstance(stamp, str):
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None


class Follower:
    """Polls for new lines of `query` (module docstring). Not thread-safe; `stop` may be set
    from another thread or a signal handler to end `run`."""

    def __init__(
        self,
        client: SearchClient,
        query: LogQuery,
        started: float,
        lateness: float = DEFAULT_LATENESS,
        source: list[str] | bool = True,
    ) -> None:
        """`started`: the reader's clock (epoch seconds) when the read before following began."""
        self._client = client
        self._query = query
        self._lateness_ms = int(lateness * 1000)
        self._source = source
        self._watermark = int(started * 1000)
        self._seen: dict[Key, int] = {}

    @property
    def window_start_ms(self) -> int:
        return self._watermark - self._lateness_ms

    @property
    def held(self) -> int:
        """How many lines are remembered for the window (bounded by one lateness of lines)."""
        return len(self._seen)

    def remember(self, hit: Hit) -> None:
        """A line the first read printed: not shown again if a poll meets it."""
        stamp = ingested_ms(hit)
        if stamp is not None and stamp >= self.window_start_ms:
            self._seen[record_key(hit)] = stamp

    def poll(self) -> Iterator[Hit]:
        """The lines not shown yet, in `event.ingested` order. Raises ClusterError or
        ClusterUnavailable (the caller may poll again)."""
        window = {"range": {"event.ingested": {"gte": self.window_start_ms}}}
        query = dataclasses.replace(self._query, extra=[*self._query.extra, window])
        highest = self._watermark
        for hit in scan(self._client, query, sort(first="event.ingested"), self._source):
            key = record_key(hit)
            if key in self._seen:
                continue
            stamp = ingested_ms(hit)
            stamp = self.window_start_ms if stamp is None else stamp
            self._seen[key] = stamp
            highest = max(highest, stamp)
            yield hit
        self._watermark = highest
        start = self.window_start_ms
        self._seen = {key: stamp for key, stamp in self._seen.items() if stamp >= start}

    def run(self, emit: Callable[[Hit], None], stop: threading.Event, interval: float) -> None:
        """Poll every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            for hit in self.poll():
                emit(hit)
            stop.wait(interval)
