"""Kafka time: what a consumed message's timestamp says, as routing may use it.

Pure functions of the message (`message.timestamp()`, confluent-kafka's `(kind, millis)` pair): they
block on nothing and raise nothing for any 64-bit timestamp a producer may stamp. A caller may
assume `message_seconds` is always a time routing can represent (2000-01-01 to 9999-12-31), and
that the same message gives the same answer on every delivery unless it has no usable timestamp
(then it is routed by the wall clock when it is consumed). `pipeline.py` copies the first branch
of `message_seconds` inline on its hot path.
"""

from __future__ import annotations

import time
from typing import Any

# The Kafka timestamps routing accepts, in milliseconds: 2000-01-01 to 9999-12-31T23:59:59.999Z.
# A producer may stamp a record with any 64-bit number. One beyond 9999 (what the date functions
# and an index name's yyyy can represent) is clamped to that bound, never replaced by the wall
# clock, so routing stays a pure function of the message (a re-delivery meets its first copy,
# whatever day it arrives on).
KAFKA_MILLIS_MAX = 253_402_300_799_999
# One before 2000 (1970 and the years after it, negative numbers) comes from a clock that was
# never set: a node that booted without one stamps its lines and records from 1970. Routed by it,
# they would go to an index whose day is past every retention, which the sweeper (or ILM, which
# counts from the day in the name) deletes on its next pass, after their offsets were committed.
# Such a record is treated like one without a timestamp: routed by the wall clock when it is
# consumed, in an index the retention keeps (docs/failure-handling.md, "Kafka timestamps").
CLOCK_SET_MILLIS = 946_684_800_000  # 2000-01-01T00:00:00Z


def message_seconds(message: Any) -> float:
    """The Kafka timestamp of a message in seconds: beyond 9999 clamped to what routing can
    represent; now if the broker gave none or the producer's clock was never set (before 2000):
    such a record has nothing else to be routed by."""
    kind: int
    millis: int
    kind, millis = message.timestamp()
    if kind and CLOCK_SET_MILLIS <= millis <= KAFKA_MILLIS_MAX:  # the hot path: one comparison
        return millis / 1000.0
    if not kind or millis < CLOCK_SET_MILLIS:  # no timestamp (-1 too), or a clock never set
        return time.time()
    return KAFKA_MILLIS_MAX / 1000.0


def clockless(message: Any) -> bool:
    """Whether the message carries a Kafka timestamp from a clock that was never set."""
    kind, millis = message.timestamp()
    return bool(kind) and millis != -1 and millis < CLOCK_SET_MILLIS
