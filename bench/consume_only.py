"""Consume-only rate: how fast one Python consumer drains the topic (`python -m bench.consume_only`).

confluent-kafka `consume(10000, 1.0)` batches with `fetch.queue.backoff.ms=10`; each message's
value is touched (len) and nothing else. Prints one JSON line: events, seconds, CPU seconds and
peak RSS over the window from the first batch to the last message.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import orjson
from confluent_kafka import Consumer

from bench.procstat import peak_rss_mb


def drain(bootstrap: str, topic: str, group: str, events: int) -> dict[str, float]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )
    consumer.subscribe([topic])
    seen = nbytes = 0
    first_batch = 0
    started = cpu_started = 0.0
    while seen < events:
        batch = consumer.consume(10000, 1.0)
        if not batch:
            continue
        if not seen:
            started, cpu_started = time.monotonic(), time.process_time()
            first_batch = len(batch)
        for message in batch:
            if message.error() is None:
                seen += 1
                nbytes += len(message.value() or b"")
    seconds = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    consumer.close()
    return {
        "events": seen,
        "window_events": seen - first_batch,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "bytes": nbytes,
        "peak_rss_mb": peak_rss_mb(os.getpid()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--events", type=int, required=True)
    args = parser.parse_args()
    result = drain(args.bootstrap, args.topic, args.group, args.events)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
