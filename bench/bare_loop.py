"""The bare loop: what a competent engineer writes without our pipeline (`python -m bench.bare_loop`).

One thread: consume a batch, parse with orjson, route by path and date, enrich, append NDJSON;
every 5000 documents (or 1 s) one bulk POST through the official client, waiting for it; then
store the offsets it covered. Items answered 429 are sent again. Stops on SIGTERM.
It is the yardstick the indexer is compared with, so it stays plain: no threads, no metrics,
no dead letters, no backpressure.
"""

from __future__ import annotations

import argparse
import signal
import time
from types import FrameType
from typing import Any

import orjson
from confluent_kafka import Consumer, TopicPartition
from elasticsearch import Elasticsearch

MAX_DOCS = 5000
MAX_AGE = 1.0


def route(event: dict[str, Any]) -> str:
    """logs-<namespace>_<app>-<yyyy.MM.dd>, enriching the event with what its path tells."""
    day = str(event.get("@timestamp", ""))[:10].replace("-", ".")
    parts = event.get("log", {}).get("file", {}).get("path", "").split("/")
    if len(parts) != 8 or parts[:3] != ["", "data", "logs"]:
        return f"logs-unmatched-{day}"
    namespace, app, pod = parts[3], parts[4], parts[5]
    event.setdefault("kubernetes", {}).update(namespace=namespace, pod={"name": pod})
    event.setdefault("service", {})["name"] = app
    return f"logs-{namespace}_{app}-{day}"


def post(es: Elasticsearch, lines: list[bytes]) -> None:
    """One bulk request; resend the items answered 429 until none is left."""
    while lines:
        response = es.bulk(operations=b"".join(lines), filter_path="errors,items.*.status")  # type: ignore[arg-type]
        if not response.get("errors"):
            return
        statuses = [next(iter(item.values()))["status"] for item in response["items"]]
        lines = [line for line, status in zip(lines, statuses, strict=True) if status == 429]
        time.sleep(0.1)


def run(bootstrap: str, topic: str, group: str, url: str) -> None:
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.offset.store": False,
            "fetch.queue.backoff.ms": 10,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
        }
    )
    consumer.subscribe([topic])
    es = Elasticsearch(url, max_retries=0, request_timeout=60)
    lines: list[bytes] = []
    offsets: dict[int, int] = {}
    opened = time.monotonic()

    def flush() -> None:
        nonlocal lines, offsets, opened
        if lines:
            post(es, lines)
            consumer.store_offsets(
                offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()]
            )
        lines, offsets, opened = [], {}, time.monotonic()

    while not stopping:
        for message in consumer.consume(MAX_DOCS, 0.2):
            value, partition, offset = message.value(), message.partition(), message.offset()
            if message.error() is not None or value is None:
                continue
            assert partition is not None and offset is not None
            event = orjson.loads(value)
            index = route(event)
            lines.append(
                b'{"create":{"_index":"%s","_id":"%s:%d:%d"}}\n%s\n'
                % (index.encode(), topic.encode(), partition, offset, orjson.dumps(event))
            )
            offsets[partition] = offset + 1
            if len(lines) >= MAX_DOCS:
                flush()
        if not lines or time.monotonic() - opened >= MAX_AGE:
            flush()
    flush()
    consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    run(args.bootstrap, args.topic, args.group, args.url)


if __name__ == "__main__":
    main()
