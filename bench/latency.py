"""End-to-end latency: produce at a steady rate into an idle indexer, and let the sink time it.

Each event carries `bench_sent` (epoch seconds, taken just before `produce()`); the sink computes
`now - bench_sent` for every document when its bulk arrives. So a latency covers the producer's
linger, the broker, the indexer's batching and the bulk request up to the sink's receipt (not the
answer's way back, which is a loopback hop).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from confluent_kafka import Producer

from bench.events import EventMaker
from bench.measure import Bench, Result, indexer_env, python_module, spawn, stop_all, wait_ready
from bench.preload import PARTITIONS, create_topic

TICK = 0.01
PRODUCER = {"linger.ms": 5, "compression.type": "lz4", "acks": 1}


def produce_steady(
    bootstrap: str, topic: str, rate: int, seconds: float, maker: EventMaker | None = None
) -> int:
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    maker = maker or EventMaker(seed=13)
    total = int(rate * seconds)
    sent = 0
    started = time.monotonic()
    while sent < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        while sent < due:
            now = time.time()
            producer.produce(topic, maker.make(sent, now, sent=now), partition=sent % PARTITIONS)
            sent += 1
        producer.poll(0)
        time.sleep(TICK)
    producer.flush(30)
    return sent


TANSU_FETCH = {"fetch.wait.max.ms": 50}
WARMUP_SECONDS = 1.0
"""Produced at the rate before the measured window, and left out of it (see `latency`)."""


def latency(
    bench: Bench,
    rate: int = 10_000,
    seconds: float = 20.0,
    fetch_options: dict[str, Any] = TANSU_FETCH,
) -> Result:
    topic = f"filebeat-latency-{uuid.uuid4().hex[:6]}"
    create_topic(bench.bootstrap, topic)
    bench.sink.reset(latency=True)
    env = indexer_env(bench, f"bench-latency-{uuid.uuid4().hex[:8]}", topic)
    # Under a steady load Tansu answers a fetch late, toward fetch.wait.max.ms (500 ms), although
    # data is there (p50 0.254 s against 0.028 s with 20 ms, 2026-12-02); Kafka answers as soon
    # as fetch.min.bytes (1) is met ("the maximum amount of time the server will block before
    # answering the fetch request if there isn't sufficient data to immediately satisfy the
    # requirement given by fetch.min.bytes", Kafka's consumer configs). README lists it.
    options = {**orjson.loads(env["INDEXER_KAFKA__OPTIONS"]), **fetch_options}
    env["INDEXER_KAFKA__OPTIONS"] = orjson.dumps(options).decode()
    proc = spawn(python_module("indexer", "run"), env, bench.logs, "latency")
    try:
        wait_ready(int(env["INDEXER_METRICS__PORT"]))
        # Ready means the group is joined, but the first fetch still waits for the offset lookups
        # that follow an assignment: events produced in that first half second arrived 0.3-0.6 s
        # late and made about 3% of a 20 s run, so the p99 measured the join, not the steady
        # state (per-bulk log, 2026-12-06). A warm-up second is produced and delivered first,
        # then the sink starts counting afresh, as the drains' steady window does.
        maker = EventMaker(seed=13)
        warm = produce_steady(bench.bootstrap, topic, rate, WARMUP_SECONDS, maker)
        if _wait_for(bench, warm, timeout=30)["distinct_ids"] < warm:
            raise TimeoutError(f"latency: the {warm} warm-up events did not all arrive")
        bench.sink.reset(latency=True)
        sent = produce_steady(bench.bootstrap, topic, rate, seconds, maker)
        stats = _wait_for(bench, sent, timeout=30)
    finally:
        stop_all([proc])
    lat = stats["latency"] or {}
    checks = [] if stats["distinct_ids"] == sent else [f"{stats['distinct_ids']} of {sent} arrived"]
    return Result(
        f"latency at {rate // 1000}k/s" + ("" if fetch_options else ", librdkafka fetch defaults"),
        rate,
        docs_per_bulk=stats["documents"] / max(stats["bulks"], 1),
        checks=checks,
        extra={"p50": lat.get("p50"), "p99": lat.get("p99"), "max": lat.get("max")},
    )


def _wait_for(bench: Bench, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = bench.sink.stats()
        if stats["distinct_ids"] >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)
