"""`DayResolver.day` alone on filebeat's `@timestamp` shape (1,000 distinct stamps, cycled), for
callgrind: the cost of deciding that a stamp is a date (docs/benchmarks.md, issue 25).

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python -m bench.day_resolver 200000      # and 0; difference / 200,000
"""

from __future__ import annotations

import sys
from datetime import timedelta

from indexer.route import DayResolver


def main(calls: int) -> None:
    days = DayResolver(timedelta(days=6), timedelta(days=1))
    stamps = [
        f"2023-11-20T14:{m:02d}:{s:02d}.{ms:03d}Z"
        for m in range(2)
        for s in range(50)
        for ms in range(0, 1000, 100)
    ]
    ingest = 1700491076.0
    day = days.day
    for i in range(calls):
        day(stamps[i % 1000], ingest)


if __name__ == "__main__":
    main(int(sys.argv[1]))
