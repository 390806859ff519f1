"""Benchmark events: filebeat 8.x JSON as the Kafka output writes it, about 480 bytes each.

20 namespaces x 5 apps x 3 pods write through the default layout
`/data/logs/{namespace}/{app}/{pod}/log/app.log`. Messages mix access logs, Java and Go log lines
and JSON logs of varied length. Generation is deterministic (seeded) and fast enough to make a
million events in a few seconds: the timestamp prefix is cached per second and only a few random
integers are drawn per event.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import orjson

from indexer.sample import Source

NAMESPACES = (
    "payments", "orders", "search", "identity", "billing", "catalog", "mail", "edge", "checkout",
    "inventory", "shipping", "pricing", "reviews", "ads", "auth", "media", "reports", "support",
    "ledger", "gateway",
)  # fmt: skip
APPS = ("api", "worker", "web", "cron", "db-proxy")
PODS_PER_APP = 3

_MESSAGES = (
    '10.42.{a}.{b} - - [{clock}] "GET /api/v1/orders/{n}?expand=items HTTP/1.1" 200 {size} "-" '
    '"kube-probe/1.30"',
    "{iso} INFO  [http-nio-8080-exec-{a}] c.e.orders.OrderService - order {n} accepted for "
    "customer {b} in {size} ms",
    '{{"level":"warn","ts":"{iso}","caller":"db/query.go:{a}","msg":"slow query","duration_ms":'
    '{size},"table":"orders","rows":{b}}}',
    "{iso} ERROR [worker-{a}] c.e.payments.Gateway - upstream timeout after {size} ms (attempt "
    "{b}), retrying request {n}",
    "{iso} DEBUG cache miss key=session:{n} node=redis-{a}",
    'time="{iso}" level=info msg="reconciled" controller=deployment namespace=default name=app-{n} '
    "duration={size}ms",
)


def sources() -> list[Source]:
    """The 300 writers: every namespace runs every app with three pods."""
    suffixes = ("xbcdf", "k2q7z", "m9tvw")
    return [
        Source(namespace, app, f"{app}-7d4b9c8f6-{suffixes[p]}")
        for namespace in NAMESPACES
        for app in APPS
        for p in range(PODS_PER_APP)
    ]


class EventMaker:
    """Encodes filebeat 8.x events; `make(i, seconds)` is the i-th event stamped `seconds`."""

    def __init__(self, seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._sources = sources()
        self._offsets = [0] * len(self._sources)
        self._second = -1
        self._iso_prefix = ""
        self._clock = ""

    def make(self, i: int, seconds: float, sent: float | None = None) -> bytes:
        """Event number `i`, stamped `seconds` (epoch). `sent` adds a `bench_sent` field (epoch
        seconds) that the sink reads to measure end-to-end latency."""
        rng = self._rng
        which = i % len(self._sources)
        source = self._sources[which]
        iso, clock = self._stamp(seconds)
        message = _MESSAGES[rng.randrange(len(_MESSAGES))].format(
            a=rng.randrange(256),
            b=rng.randrange(10000),
            n=rng.randrange(10000, 100000),
            size=rng.randrange(10, 9000),
            iso=iso,
            clock=clock,
        )
        offset = self._offsets[which]
        self._offsets[which] = offset + len(message) + 1
        node = f"node-{1 + which % 6}"
        event: dict[str, object] = {
            "@timestamp": iso,
            "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.11.0"},
            "message": message,
            "log": {"offset": offset, "file": {"path": source.path}},
            "input": {"type": "filestream"},
            "ecs": {"version": "8.0.0"},
            "host": {"name": node},
            "agent": {"type": "filebeat", "version": "8.11.0", "name": node},
        }
        if sent is not None:
            event["bench_sent"] = sent
        return orjson.dumps(event)

    def _stamp(self, seconds: float) -> tuple[str, str]:
        whole = int(seconds)
        if whole != self._second:
            tm = time.gmtime(whole)
            self._second = whole
            self._iso_prefix = time.strftime("%Y-%m-%dT%H:%M:%S.", tm)
            self._clock = time.strftime("%d/%b/%Y:%H:%M:%S +0000", tm)
        millis = int((seconds - whole) * 1000)
        return f"{self._iso_prefix}{millis:03d}Z", self._clock


def backlog(count: int, span_seconds: float = 1800.0, seed: int = 7) -> Iterator[bytes]:
    """`count` events spread evenly over the `span_seconds` before now (a realistic backlog)."""
    maker = EventMaker(seed)
    start = time.time() - span_seconds
    step = span_seconds / max(count, 1)
    for i in range(count):
        yield maker.make(i, start + i * step)
