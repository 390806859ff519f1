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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from indexer.cluster import SearchClient, connect
from indexer.route import DayResolver
from indexer.settings import ElasticsearchSettings, ParsingSettings, RoutingSettings
from indexer.structured import LineParser

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def days_ago(days: int) -> datetime:
    """Midnight (UTC) `days` days before today: event times relative to now keep every test
    inside the routing bounds and the retention, whatever the date."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(10)


def produce(
    bootstrap: str, topic: str, values: Iterable[bytes], partitions: int | None = None
) -> dict[str, bytes]:
    """Produce `values` (round-robin over `partitions` when given) and return them by their
    Kafka record, `topic:partition:offset` (the key `documents` gives what was stored)."""
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


def produce_stamped(
    bootstrap: str, topic: str, records: Iterable[tuple[bytes, int | None]]
) -> dict[str, bytes]:
    """Produce (value, Kafka timestamp in ms, or None for the producer's now) one at a time to
    partition 0, in order; returns the values by record (`topic:partition:offset`)."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 20_000_000})
    produced: dict[str, bytes] = {}
    errors: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            errors.append(str(err))
        else:
            produced[f"{msg.topic()}:{msg.partition()}:{msg.offset()}"] = msg.value() or b""

    for value, millis in records:
        stamp = {"timestamp": millis} if millis is not None else {}
        producer.produce(topic, value, partition=0, on_delivery=delivered, **stamp)
        producer.flush(30)  # one at a time: records in produce order
    assert not errors, errors
    return produced


_LIVE: list[IndexerProcess] = []


def stop_leftovers() -> list[str]:
    """Kill every indexer process a test started and did not stop (the conftest fixture calls
    this at teardown, so a failing test leaves nothing running). Returns their log paths."""
    left = []
    while _LIVE:
        process = _LIVE.pop()
        if process.proc is not None and process.proc.poll() is None:
            left.append(str(process.log_path))
            process.kill()
    return left


@dataclass
class IndexerProcess:
    """`python -m indexer run` in a child process, with settings from the environment. It binds
    its metrics server to a port of its own choosing and says which in its `listening` line."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _port: int | None = field(default=None, init=False)

    def start(self) -> IndexerProcess:
        env = {**os.environ, "INDEXER_METRICS__PORT": "0", **self.env}
        self._log = self.log_path.open("ab")
        self._offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _LIVE.append(self)
        return self

    @property
    def metrics_port(self) -> int:
        """The port of /metrics, /healthz and /readyz, from the process's `listening` line."""
        deadline = time.monotonic() + 30
        while self._port is None:
            own = self.log_path.read_bytes()[self._offset :].decode(errors="replace")
            for raw in own.splitlines():
                if '"listening"' in raw:
                    self._port = int(json.loads(raw)["metrics_port"])
            if self._port is None:
                assert self.proc is not None and self.proc.poll() is None, "the indexer exited"
                assert time.monotonic() < deadline, "the indexer never said where it listens"
                time.sleep(0.05)
        return self._port

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
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


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m indexer ARGS…` to its end, with `env` and none of this environment's own
    `INDEXER_*` settings; its output captured as text, its exit status not checked."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INDEXER_")}
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def committed_offsets(bootstrap: str, group: str = "log-indexer") -> dict[tuple[str, int], int]:
    """The group's committed offsets, read back from the broker (not from the indexer's logs)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [ConsumerGroupTopicPartitions(group)]
    answer = admin.list_consumer_group_offsets(request)[group].result(10)
    return {(tp.topic, tp.partition): tp.offset for tp in answer.topic_partitions if tp.offset >= 0}


def ends_of(produced: dict[str, bytes]) -> dict[tuple[str, int], int]:
    """Offset after the last produced message of each partition (the broker's ListOffsets is
    batch-grained here, TESTING-NOTES.md, so it is computed from what was produced)."""
    ends: dict[tuple[str, int], int] = {}
    for doc_id in produced:
        topic, partition, offset = doc_id.rsplit(":", 2)
        key = (topic, int(partition))
        ends[key] = max(ends.get(key, 0), int(offset) + 1)
    return ends


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def cluster(url: str) -> SearchClient:
    """The indexer's own client on `url`, in the dialect the bed answers with."""
    return connect(ElasticsearchSettings(hosts=[url], request_timeout_seconds=30))


# Where events are stored: app, shared and unmatched indices, never the dead letters (a dead
# letter carries its message's _id, so counting it would pass a dead-lettered event as stored).
STORED = "k8s-logs-*_*,k8s-logs-unmatched-*"
DEADLETTERS = "k8s-logs-deadletter-*"
# How each product names a field-type refusal (REAL-CLUSTERS.md §6: Elasticsearch since 8.8).
PARSING_ERROR = {
    "elasticsearch": "document_parsing_exception",
    "opensearch": "mapper_parsing_exception",
}
_OPTIONAL = {"ignore_unavailable": "true", "allow_no_indices": "true"}


def documents(es_url: str, index: str = STORED) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every document in `index`, by the Kafka record it came from (`topic:partition:offset`,
    from its `kafka.*` fields): (index, source). Fails on a record or an _id stored twice."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for doc_id, (index_name, source) in documents_by_id(es_url, index).items():
        record = record_of(source)
        assert record not in found, f"record {record} stored twice (as {doc_id} too)"
        found[record] = (index_name, source)
    return found


def record_of(source: dict[str, Any]) -> str:
    """`topic:partition:offset` of the Kafka record a stored document came from."""
    kafka = source["kafka"]
    return f"{kafka['topic']}:{kafka['partition']}:{kafka['offset']}"


def documents_by_id(es_url: str, index: str = STORED) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every document in `index`, by _id: (index, source). Fails on an _id seen twice."""
    es = cluster(es_url)
    try:
        es.request("POST", f"/{index}/_refresh", params=_OPTIONAL)
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        answer = es.request(
            "POST",
            f"/{index}/_search",
            {"query": {"match_all": {}}, "size": 5000, "sort": ["_doc"]},
            {"scroll": "1m", **_OPTIONAL},
        )
        while answer["hits"]["hits"]:
            for hit in answer["hits"]["hits"]:
                assert hit["_id"] not in found, f"{hit['_id']} stored twice"
                found[hit["_id"]] = (hit["_index"], hit["_source"])
            answer = es.request(
                "POST", "/_search/scroll", {"scroll": "1m", "scroll_id": answer["_scroll_id"]}
            )
        return found
    finally:
        es.close()


def deadletters(es_url: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every dead letter in the dead-letter indices, by _id: (index, source)."""
    return documents_by_id(es_url, DEADLETTERS)


def expected_source(value: bytes) -> dict[str, Any]:
    """What a produced event must look like once stored, for the fields it was produced with:
    the event itself, without `@metadata` (never indexed, docid.py), its line parsed by the
    indexer's own parser with the default settings (structured.py: a JSON or logfmt line's own
    `message`, `log.level`; tests/unit/test_structured.py and test_structured_lines.py test that
    parsing on its own). Produced "now", so the bounds are measured from now."""
    event = decoded(value)
    event.pop("@metadata", None)
    routing = RoutingSettings()
    days = DayResolver(routing.max_past, routing.max_future)
    LineParser(ParsingSettings(), days.within).parse(event, time.time())
    return event


def settled(indexer: IndexerProcess) -> bool:
    """Every event it consumed has its outcome counted (indexed, duplicate or dead letter)."""
    outcomes = sum(
        indexer.metric(name)
        for name in (
            "indexer_events_indexed_total",
            "indexer_events_duplicate_total",
            "indexer_events_deadlettered_total",
        )
    )
    return outcomes == indexer.metric("indexer_events_consumed_total")


def finish_and_check(
    bootstrap: str,
    es_url: str,
    produced: dict[str, bytes],
    running: Iterable[IndexerProcess],
    *,
    duplicates_possible: bool,
    timeout: float = 60,
) -> dict[str, tuple[str, dict[str, Any]]]:
    """The end of every fault test: wait until everything is stored, then prove it was stored
    and not dead-lettered, once, with its content, and committed.

    - every running indexer's counters settle, none counted a dead letter, and (unless
      `duplicates_possible`: a request that may have reached the server was re-sent) none
      counted a duplicate; each stops cleanly;
    - the dead-letter indices hold nothing;
    - the stored documents are exactly the produced records, each with every field it was
      produced with, unchanged;
    - the group's committed offsets, read from the broker, are the end of every partition.
    Returns the stored documents by record."""
    running = list(running)
    try:
        wait_for(lambda: count(es_url) >= len(produced), timeout, "everything stored")
    except AssertionError as exc:
        found = (
            f"{count(es_url)} of {len(produced)} stored, {count(es_url, DEADLETTERS)} dead letters"
        )
        raise AssertionError(f"{exc} ({found})") from None
    for indexer in running:
        wait_for(lambda i=indexer: settled(i), 30, "the indexer's outcome counters to settle")  # type: ignore[misc]
        assert indexer.metric("indexer_events_deadlettered_total") == 0, indexer.log_path
        if not duplicates_possible:
            assert indexer.metric("indexer_events_duplicate_total") == 0, indexer.log_path
    for indexer in running:
        assert indexer.stop() == 0, indexer.log_path
    assert deadletters(es_url) == {}
    stored = documents(es_url)
    assert stored.keys() == produced.keys()
    for record, (_, source) in stored.items():
        expected = expected_source(produced[record])
        assert {key: source.get(key) for key in expected} == expected, record
    assert committed_offsets(bootstrap) == ends_of(produced)
    return stored


def count(es_url: str, index: str = STORED) -> int:
    es = cluster(es_url)
    try:
        es.request("POST", f"/{index}/_refresh", params=_OPTIONAL)
        return int(es.request("GET", f"/{index}/_count", params=_OPTIONAL)["count"])
    finally:
        es.close()


def decoded(value: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = orjson.loads(value)
    return parsed
