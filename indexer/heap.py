"""The interpreter's cyclic garbage collector, tuned for a process that streams objects.

The poll loop creates a `confluent_kafka.Message` (a container the collector tracks) for each
consumed record, and a batch keeps them until its bulk is acknowledged. Under CPython's default
thresholds (700, 10, 10) a read of 5,000 records sets off seven young collections, each walking
the read's list and its messages, and the older generations keep walking the batches in flight
and every object the imports left (pydantic models, the clients): a drain profile spent about
6% of the process's CPU in `gc_collect_main` and its visitors, none of it finding garbage (the
per-event path makes no reference cycles).

`settle()` runs once, after start-up: a full collection, then `gc.freeze()` moves every object
alive into the permanent generation (never walked again: the start-up objects live as long as
the process), and the young threshold is raised so a collection runs about once per few reads,
after most of their messages are already freed. Cycles are still collected (exceptions with
tracebacks make some); only less often. Measured (docs/benchmarks.md, "Native core, phase 2"):
the p99 of the latency run and the CPU per event both fell. The price is on failure paths: what
a cycle holds (a retried request's body, say) is freed later; `tests/test_parking_memory.py`
peaked at 153-171 MiB with this threshold and 136-172 MiB with CPython's, both within its bound.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Allocations of tracked objects between young collections (CPython's default: 700)."""
OLDER_THRESHOLDS = (20, 20)


def settle() -> None:
    """Collect, freeze what start-up left, and raise the young threshold. Call once, after
    start-up and before consuming; cheap (a few ms), never raises."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
