"""The transform's cost in instructions, for callgrind: exact where timings on a shared machine
are not.

    PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m bench.instructions --events 20000
    (and again with --events 0)

Instructions per event = (total with N events - total with 0) / N: the difference leaves out
the interpreter's start, the imports and building the events.
"""

from __future__ import annotations

import argparse
import time

from bench.events import backlog
from indexer.encode import ingested_field
from indexer.route import Router
from indexer.settings import RoutingSettings
from indexer.transform import transform

POOL = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, required=True, help=f"0 to {POOL}")
    args = parser.parse_args()
    values = list(backlog(POOL))[: args.events]
    router = Router(RoutingSettings())
    now = time.time()
    ingested = ingested_field(now)  # once per consumed batch, as the poll loop does
    for offset, value in enumerate(values):
        transform(router, value, "filebeat-bench", offset & 3, offset, now, ingested)


if __name__ == "__main__":
    main()
