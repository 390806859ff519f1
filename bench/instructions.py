"""The transform's cost in instructions, for callgrind: exact where timings on a shared machine
are not.

    PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m bench.instructions --events 20000
    (and again with --events 0)

Instructions per event = (total with N events - total with 0) / N: the difference leaves out
the interpreter's start, the imports and building the events. `python -m bench.instruction_counts`
does all four runs for both cores and prints the table. `--kind` keeps only the events of
one message layout of bench/events.py (`--events` of them), `--no-parse` turns structured-line
parsing off (`parsing.enabled=false`), for the cost of parsing per layout.
"""

from __future__ import annotations

import argparse
import collections
import time

import orjson
from confluent_kafka import Message

from bench.events import backlog
from indexer.batch import Batcher, BatchPolicy
from indexer.commit import OffsetTracker
from indexer.encode import ingested_field
from indexer.pipeline import Pipeline
from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings
from indexer.transform import transform

POOL = 20_000
# How each layout of bench/events.py's _MESSAGES begins or reads.
KINDS = {
    "access": lambda m: m.startswith("10.42."),
    "java-info": lambda m: " INFO  [" in m,
    "json": lambda m: m.startswith("{"),
    "java-error": lambda m: " ERROR [" in m,
    "debug": lambda m: " DEBUG " in m,
    "logfmt": lambda m: m.startswith("time="),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True, help=f"0 to {POOL}")
    parser.add_argument("--kind", choices=sorted(KINDS), help="only events of this layout")
    parser.add_argument("--no-parse", action="store_true", help="parsing.enabled=false")
    parser.add_argument("--poll-loop", action="store_true", help="Pipeline._take, not transform")
    parser.add_argument(
        "--core",
        choices=("python", "native"),
        default="python",
        help="the core the poll loop runs (implies --poll-loop for native; indexer/core.py)",
    )
    args = parser.parse_args()
    if args.kind:
        keep = KINDS[args.kind]
        # That layout's events of the usual pool, repeated: the same cost per event as fresh
        # ones (the caches are per minute and per path, and these span 30 minutes).
        pool = [v for v in backlog(POOL) if keep(orjson.loads(v)["message"])] * len(KINDS)
    else:
        pool = list(backlog(POOL))
    values = pool[: args.events]
    router = Router(RoutingSettings(), ParsingSettings(enabled=not args.no_parse))
    now = time.time()
    if args.poll_loop or args.core == "native":
        poll_loop(router, values, now, native=args.core == "native", parse=not args.no_parse)
        return
    ingested = ingested_field(now)  # once per consumed batch, as the poll loop does
    for offset, value in enumerate(values):
        transform(router, value, "filebeat-bench", offset & 3, offset, now, ingested)


def poll_loop(
    router: Router, values: list[bytes], now: float, native: bool = False, parse: bool = True
) -> None:
    """`Pipeline._take` over reads of 1,000 messages, on a pipeline holding only what `_take`
    and the sealing of batches use (no consumer, no writers: nothing here waits). With
    `native`, on the native core, its routes registered first by a read of one event per path
    (in the run with 0 events too, so the difference leaves it out)."""
    millis = int(now * 1000)
    messages = [
        Message(topic="filebeat-bench", partition=i & 3, offset=i, value=v, timestamp=(1, millis))
        for i, v in enumerate(values)
    ]
    pipeline = Pipeline.__new__(Pipeline)
    pipeline._router = router
    pipeline._batcher = Batcher(BatchPolicy(5000, 8 << 20, 1.0), time.monotonic)
    pipeline._tracker = OffsetTracker()
    pipeline._sealed = collections.deque()
    pipeline._buffered = 0
    pipeline._native = None
    if native:
        import indexer_core._core

        from indexer.core import new_native
        from indexer.settings import Settings

        settings = Settings(parsing=ParsingSettings(enabled=parse))
        pipeline._native = new_native(indexer_core._core, settings, router)
        warm = [
            Message(topic="filebeat-bench", partition=0, offset=i, value=v, timestamp=(1, millis))
            for i, v in enumerate(backlog(300, seed=11))
        ]
        pipeline._take(warm)
    for start in range(0, len(messages), 1000):
        pipeline._take(messages[start : start + 1000])


if __name__ == "__main__":
    main()
