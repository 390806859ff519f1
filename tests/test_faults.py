"""Faults injected at the HTTP and process level against the real servers. Each test ends with
produced == indexed (+ dead letters), by _id."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, Product, Reply, ServerProcess
from indexer.sample import sources, stream
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    decoded,
    documents,
    ends_of,
    indexer_env,
    produce,
    wait_for,
)

DAY = days_ago(1)
Rule = Callable[[str, str, bytes], Reply | None]


def _produce(
    kafka: ServerProcess, events: int, partitions: int = 3
) -> tuple[str, dict[str, bytes]]:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-f", partitions)
    values = [v for _, v in stream(sources(2, 2, 2), events, DAY, days=1)]
    return bootstrap, produce(bootstrap, "filebeat-f", values, partitions=partitions)


def _readyz(indexer: IndexerProcess) -> int:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{indexer.metrics_port}/readyz", timeout=5
        ) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except urllib.error.URLError:
        return 0


def _rss_kib(indexer: IndexerProcess) -> int:
    assert indexer.proc is not None
    for line in Path(f"/proc/{indexer.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _run_to_completion(
    bootstrap: str, es_url: str, produced: dict[str, bytes], tmp_path: Path, **env: str
) -> IndexerProcess:
    indexer = IndexerProcess(indexer_env(bootstrap, es_url, **env), tmp_path / "i.log").start()
    wait_for(lambda: count(es_url) >= len(produced), 55, "everything indexed")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    assert indexer.stop() == 0
    stored = documents(es_url)
    assert stored.keys() == produced.keys()
    for doc_id, (_, source) in stored.items():
        assert source["message"] == decoded(produced[doc_id])["message"], doc_id
    assert count(es_url, DEADLETTERS) == 0
    assert committed_offsets(bootstrap) == ends_of(produced)
    return indexer


def test_elasticsearch_frozen_for_30_s_pauses_the_indexer_with_flat_memory_and_it_resumes(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 20_000)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS="2",
        INDEXER_BATCH__MAX_BUFFERED_BYTES=str(4 * 1024 * 1024),
        INDEXER_BATCH__MAX_DOCS="500",
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 2000, 30, "indexing under way")
    es_server.pause()
    try:
        wait_for(lambda: indexer.metric("indexer_paused") == 1, 15, "the indexer to pause")
        wait_for(lambda: _readyz(indexer) == 503, 15, "readiness to fail")
        rss = [_rss_kib(indexer)]
        for _ in range(10):
            time.sleep(2)
            rss.append(_rss_kib(indexer))
        assert max(rss) - rss[0] < 20 * 1024, f"memory grew while paused: {rss} KiB"
    finally:
        es_server.resume()
    wait_for(lambda: count(es_proxy.url) >= len(produced), 55, "the rest indexed after resume")
    assert _readyz(indexer) == 200
    retry_lines = [line for line in indexer.log_lines() if line.get("event") == "retrying"]
    assert 1 <= len(retry_lines) <= 12  # at most one line every few seconds
    assert indexer.stop() == 0
    assert documents(es_proxy.url).keys() == produced.keys()


# What each product calls its write-pressure rejection (REAL-CLUSTERS.md §6).
REJECTED_EXECUTION = {
    "elasticsearch": "es_rejected_execution_exception",
    "opensearch": "rejected_execution_exception",
}
WRITE_BLOCK = "index [{index}] blocked by: [FORBIDDEN/8/index write (api)];"


def _partial_429(
    upstream_port: int,
    share: float,
    seed: int = 3,
    status: int = 429,
    error_type: str = "es_rejected_execution_exception",
    reason: str = "rejected execution of coordinating operation",
) -> Rule:
    """Forward a random subset of each bulk to the real server; answer `status` (429 unless
    told) with `error_type` for the rest, as the real cluster words it."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" not in path:
            return None
        lines = body.splitlines()
        pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
        with lock:
            held = [rng.random() < share for _ in pairs]
        sent = b"".join(b"\n".join(p) + b"\n" for p, h in zip(pairs, held, strict=True) if not h)
        forwarded: list[dict[str, object]] = []
        if sent:
            connection = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            connection.request("POST", "/_bulk", sent, {"Content-Type": "application/x-ndjson"})
            forwarded = json.loads(connection.getresponse().read())["items"]
            connection.close()
        answers = iter(forwarded)
        items = [
            {"create": {"status": status, "error": {"type": error_type, "reason": reason}}}
            if h
            else next(answers)
            for h in held
        ]
        return Reply(200, json.dumps({"errors": True, "items": items}).encode())

    return rule


def test_partial_item_429s_are_retried_item_by_item_until_all_are_in(
    kafka: ServerProcess,
    es_server: ServerProcess,
    es_proxy: CompatProxy,
    tmp_path: Path,
    product: Product,
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    es_proxy.fault = _partial_429(es_server.port, share=0.3, error_type=REJECTED_EXECUTION[product])
    indexer = _run_to_completion(
        bootstrap, es_proxy.url, produced, tmp_path, INDEXER_BATCH__MAX_DOCS="500"
    )
    assert indexer.log_lines()  # the run logged; its counters were checked above


def test_items_refused_by_a_write_block_are_retried_until_the_block_lifts_not_dead_lettered(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # OpenSearch's force_merge (or an operator) sets index.blocks.write: 403 on every item
    # (REAL-CLUSTERS.md §5). Here a random 30% of the items meet it, each time.
    bootstrap, produced = _produce(kafka, 2000)
    es_proxy.fault = _partial_429(
        es_server.port,
        share=0.3,
        status=403,
        error_type="cluster_block_exception",
        reason=WRITE_BLOCK.format(index="k8s-logs-payments_api-x"),
    )
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path, INDEXER_BATCH__MAX_DOCS="500")


def test_a_create_index_block_is_waited_out_and_nothing_is_dead_lettered(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # OpenSearch blocks index creation at high disk usage and lifts it by itself (§5).
    refused = {"count": 0}
    block = json.dumps(
        {
            "error": {
                "type": "cluster_block_exception",
                "reason": "blocked by: [FORBIDDEN/10/cluster create-index blocked (api)];",
            },
            "status": 403,
        }
    ).encode()

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if method == "PUT" and path.startswith("/k8s-logs-") and refused["count"] < 6:
            refused["count"] += 1
            return Reply(403, block)
        return None

    bootstrap, produced = _produce(kafka, 500)
    es_proxy.fault = rule
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path)
    assert refused["count"] == 6


def _storm(rules: list[tuple[float, Reply]], seed: int = 5) -> Rule:
    """For bulk requests: with each probability, answer with that reply instead of forwarding."""
    rng = random.Random(seed)

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" not in path:
            return None
        roll = rng.random()
        for probability, reply in rules:
            if roll < probability:
                return reply
            roll -= probability
        return None

    return rule


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            [
                (
                    0.6,
                    Reply(
                        429, b'{"error":{"type":"es_rejected_execution_exception"},"status":429}'
                    ),
                )
            ],
            id="429-storm",
        ),
        pytest.param(
            [(0.5, Reply(503, b'{"error":{"type":"unavailable_shards_exception"},"status":503}'))],
            id="503s",
        ),
        pytest.param([(0.4, Reply(reset=True))], id="connection-resets"),
        pytest.param([(0.3, Reply(forward=True, delay=1.5))], id="slow-responses"),
    ],
)
def test_whole_request_failures_are_retried_and_nothing_is_lost_or_doubled(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path, fault: list[tuple[float, Reply]]
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    es_proxy.fault = _storm(fault)
    _run_to_completion(
        bootstrap,
        es_proxy.url,
        produced,
        tmp_path,
        INDEXER_BATCH__MAX_DOCS="300",
        INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS="1",
    )


def test_a_413_splits_the_batch_until_the_cluster_accepts_it(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    # Elasticsearch's own 413: no body, Content-Length 0, then it closes the connection
    # (REAL-CLUSTERS.md §8, Netty4HttpContentSizeHandler).
    too_large = Reply(413, b"", close=True)
    es_proxy.fault = lambda m, p, body: too_large if "_bulk" in p and len(body) > 40_000 else None
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path)
    bulk_sizes = [len(r.body) for r in es_proxy.requests if "_bulk" in r.path]
    assert max(bulk_sizes) > 40_000  # it tried big batches first
    assert len(bulk_sizes) > 3000 * 600 / 40_000
    accepted = [size for size in bulk_sizes if size <= 40_000]
    assert sum(accepted) >= sum(len(v) for v in produced.values())  # all of it went in small


def test_a_broker_frozen_mid_stream_is_survived(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 12_000)
    es_proxy.fault = lambda m, p, b: Reply(forward=True, delay=0.1) if "_bulk" in p else None
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_BATCH__MAX_DOCS="500")
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 2000, 30, "indexing under way")
    kafka.pause()
    time.sleep(8)
    kafka.resume()
    es_proxy.fault = None
    wait_for(lambda: count(es_proxy.url) >= len(produced), 55, "the rest indexed")
    assert indexer.stop() == 0
    assert documents(es_proxy.url).keys() == produced.keys()


def test_scaling_from_one_to_two_to_one_member_mid_stream_loses_and_doubles_nothing(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 9000, partitions=4)
    es_proxy.fault = lambda m, p, b: Reply(forward=True, delay=0.15) if "_bulk" in p else None
    env = indexer_env(bootstrap, es_proxy.url, INDEXER_BATCH__MAX_DOCS="200")
    first = IndexerProcess(env, tmp_path / "first.log").start()
    wait_for(lambda: count(es_proxy.url) >= 1500, 30, "the first member indexing")
    second = IndexerProcess(env, tmp_path / "second.log").start()
    wait_for(
        lambda: any(
            line.get("event") == "partitions_assigned" and line["partitions"]
            for line in second.log_lines()
        ),
        30,
        "the second member to get partitions",
    )
    wait_for(lambda: count(es_proxy.url) >= 5000, 40, "both members indexing")
    assert second.stop() == 0
    es_proxy.fault = None
    wait_for(lambda: count(es_proxy.url) >= len(produced), 40, "the first member to finish")
    assert first.stop() == 0
    assert documents(es_proxy.url).keys() == produced.keys()
    revoked = [line for line in first.log_lines() if line.get("event") == "partitions_revoked"]
    assert revoked and all(line["drained"] and line["committed"] for line in revoked)


def test_a_dead_letter_storm_trips_the_breaker_and_stops_with_a_clear_error(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-storm", 1)
    produce(bootstrap, "filebeat-storm", [b"garbage %d" % i for i in range(600)], partitions=1)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_DEADLETTER__BREAKER_WINDOW="200",
        INDEXER_BATCH__MAX_DOCS="50",
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    assert indexer.proc is not None
    assert indexer.proc.wait(40) == 1
    errors = [line for line in indexer.log_lines() if line.get("event") == "exiting"]
    assert errors and "dead-letter circuit breaker" in errors[0]["reason"]
    assert count(es_proxy.url) < 600
