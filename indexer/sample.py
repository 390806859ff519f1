"""Realistic filebeat 8.x events, for the demo, the tests and the benchmark."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_MESSAGES = (
    '10.42.{a}.{b} - - [{clock}] "GET /api/v1/orders/{n} HTTP/1.1" 200 {size} "-" "kube-probe/1.30"',
    "{iso} INFO  [main] c.e.orders.OrderService - order {n} accepted for customer {b} in {size} ms",
    '{{"level":"warn","ts":"{iso}","msg":"slow query","duration_ms":{size},"table":"orders"}}',
    "{iso} ERROR [worker-{a}] c.e.payments.Gateway - upstream timeout after {size} ms (attempt {b})",
    "{iso} DEBUG cache miss key=session:{n} node=redis-{a}",
    'time={iso} level=info msg="cart updated" user=u{b} items={a} duration={size}ms',
    '{{"level":"error","ts":"{iso}","msg":"payment declined","order":{n},"error":"card expired"}}',
)


@dataclass(frozen=True)
class Source:
    namespace: str
    app: str
    pod: str

    @property
    def path(self) -> str:
        return f"/data/logs/{self.namespace}/{self.app}/{self.pod}/log/app.log"


def sources(namespaces: int, apps: int, pods: int = 2) -> list[Source]:
    names = ("payments", "orders", "search", "identity", "billing", "catalog", "mail", "edge")
    apps_names = ("api", "worker", "web", "cron", "gateway", "indexer-x", "db-proxy", "cache")
    return [
        Source(
            f"{names[n % len(names)]}{n // len(names) or ''}",
            f"{apps_names[a % len(apps_names)]}{a // len(apps_names) or ''}",
            f"{apps_names[a % len(apps_names)]}-7d4b9c8f6-{'xbcdf'[p % 5]}{p:04d}",
        )
        for n in range(namespaces)
        for a in range(apps)
        for p in range(pods)
    ]


def event(source: Source, when: datetime, offset: int, rng: random.Random) -> dict[str, Any]:
    iso = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    message = rng.choice(_MESSAGES).format(
        a=rng.randint(0, 255),
        b=rng.randint(0, 9999),
        n=rng.randint(10000, 99999),
        size=rng.randint(10, 9000),
        iso=iso,
        clock=when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
    )
    node = f"node-{rng.randint(1, 6)}.cluster.local"
    return {
        "@timestamp": iso,
        "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.11.0"},
        "message": message,
        "log": {
            "offset": offset,
            "file": {"device_id": "64514", "inode": "140027", "path": source.path},
        },
        "input": {"type": "filestream"},
        "ecs": {"version": "8.0.0"},
        "host": {"name": node},
        "agent": {
            "id": "24f13539-7e02-46c0-bd78-a1d9212f93f3",
            "name": node,
            "type": "filebeat",
            "version": "8.11.0",
            "ephemeral_id": "8b30db57-a5ee-4a47-b998-3a0f45edd430",
        },
    }


def stream(
    srcs: list[Source], count: int, start: datetime, days: int = 1, seed: int = 7
) -> Iterator[tuple[Source, bytes]]:
    """`count` encoded events spread evenly over `days` days from `start` (UTC)."""
    rng = random.Random(seed)
    span = timedelta(days=days).total_seconds()
    for i in range(count):
        source = srcs[i % len(srcs)]
        when = start + timedelta(seconds=span * i / max(count, 1))
        yield source, orjson.dumps(event(source, when.astimezone(UTC), i * 120, rng))
