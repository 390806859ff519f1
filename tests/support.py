"""Helpers for end-to-end tests: topics, producing, running the indexer as a real process, and
reading back what Elasticsearch holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from elasticsearch import Elasticsearch, helpers

from indexer.embedded import free_port

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(10)


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], partitions: int | None = None
) -> dict[str, bytes]:
    """Produce `values` (round-robin over `partitions` when given) and return them by the
    document id the indexer will give them (`topic:partition:offset`)."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "compression.type": "lz4",
            "message.max.bytes": 2_000_000,
        }
    )
    produced: dict[str, bytes] = {}
    errors: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            produced[f"{msg.topic()}:{msg.partition()}:{msg.offset()}"] = msg.value()

    for i, value in enumerate(values):
        kwargs = {"partition": i % partitions} if partitions else {}
        while True:
            try:
                producer.produce(topic, value, on_delivery=delivered, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(30) == 0
    assert not errors, errors[:3]
    return produced


@dataclass
class IndexerProcess:
    """`python -m indexer run` in a child process, with settings from the environment."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = field(default_factory=free_port)

    def start(self) -> IndexerProcess:
        env = {**os.environ, **self.env, "INDEXER_METRICS__PORT": str(self.metrics_port)}
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def metric_samples(self, name: str) -> dict[str, float]:
        """A per-partition metric's samples, by the `partition` label."""
        import re

        found: dict[str, float] = {}
        for line in self._metrics_text().splitlines():
            if line.startswith(name + "{"):
                partition = re.search(r'partition="(\d+)"', line)
                if partition:
                    found[partition.group(1)] = float(line.rsplit(" ", 1)[1])
        return found

    def _metrics_text(self) -> str:
        import urllib.error
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except urllib.error.URLError:
            assert self.proc is not None and self.proc.poll() is None, "the indexer exited"
            return ""  # not listening yet

    def metric(self, name: str) -> float:
        """Sum of a metric's samples from /metrics (0 when absent)."""
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in self._metrics_text().splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        )


def indexer_env(bootstrap: str, es_url: str, **extra: str) -> dict[str, str]:
    env = {
        "INDEXER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "INDEXER_KAFKA__OPTIONS": json.dumps(FAST_GROUP),
        "INDEXER_ELASTICSEARCH__HOSTS": json.dumps([es_url]),
        "INDEXER_LOG__FORMAT": "json",
        "INDEXER_BATCH__MAX_AGE_SECONDS": "0.2",
        "INDEXER_RETRY__MAX_BACKOFF_SECONDS": "1",
        "INDEXER_SHUTDOWN__DRAIN_TIMEOUT_SECONDS": "10",
    }
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def documents(es_url: str, index: str = "logs-*") -> dict[str, tuple[str, dict[str, Any]]]:
    """Every document in `index`, by _id: (index, source). Fails on an _id seen twice."""
    es = Elasticsearch(es_url)
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for hit in helpers.scan(es, index=index, query={"query": {"match_all": {}}}, size=5000):
        assert hit["_id"] not in found, f"{hit['_id']} stored twice"
        found[hit["_id"]] = (hit["_index"], hit["_source"])
    return found


def count(es_url: str, index: str = "logs-*") -> int:
    es = Elasticsearch(es_url)
    es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    result = es.count(index=index, ignore_unavailable=True, allow_no_indices=True)
    return int(result["count"])


def decoded(value: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(value)
    return parsed
