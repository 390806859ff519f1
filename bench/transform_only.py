"""Transform-only rate: the indexer's own decode, route and encode on bytes already in memory.

`python -m bench.transform_only --events N` runs three passes over the same events (decode;
decode + route; the pipeline's whole transform: decode, id, route, encode), so the cost of each stage is the difference between
two passes. No I/O, no Kafka, no batching. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import orjson

from bench.events import backlog
from indexer.decode import decode
from indexer.encode import ingested_field
from indexer.route import Router
from indexer.settings import RoutingSettings
from indexer.transform import transform

TOPIC = "filebeat-bench"
POOL = 100_000


def _decode_only(values: list[bytes], router: Router, now: float) -> None:
    for value in values:
        decode(value)


def _decode_route(values: list[bytes], router: Router, now: float) -> None:
    route = router.route
    for value in values:
        route(decode(value), now)


def _transform(values: list[bytes], router: Router, now: float) -> None:
    """The pipeline's own transform: decode, document id, route, encode."""
    ingested = ingested_field(now)  # once per consumed batch, as the poll loop does
    for offset, value in enumerate(values):
        transform(router, value, TOPIC, offset & 3, offset, now, ingested)


PASSES: dict[str, Callable[[list[bytes], Router, float], None]] = {
    "decode": _decode_only,
    "decode_route": _decode_route,
    "transform": _transform,
}


def measure(events: int) -> dict[str, float]:
    values = list(backlog(min(events, POOL)))
    router = Router(RoutingSettings())
    now = time.time()
    result: dict[str, float] = {"events": events}
    for name, run in PASSES.items():
        done = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while done < events:
            chunk = values[: events - done]
            run(chunk, router, now)
            done += len(chunk)
        result[f"{name}_seconds"] = time.perf_counter() - started
        result[f"{name}_cpu_seconds"] = time.process_time() - cpu_started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True)
    args = parser.parse_args()
    sys.stdout.write(orjson.dumps(measure(args.events)).decode() + "\n")


if __name__ == "__main__":
    main()
