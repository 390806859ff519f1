"""Faults injected at the HTTP and process level against the real servers. Each test ends with
`finish_and_check`: nothing dead-lettered, every produced record stored once with its content,
and the group's committed offsets at the end of every partition."""

from __future__ import annotations

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
from tests.support import (
    DEADLETTERS,
    FAST_GROUP,
    IndexerProcess,
    committed_offsets,
    count,
    create_topic,
    days_ago,
    documents_by_id,
    finish_and_check,
    indexer_env,
    log_events,
    produce,
    produce_sample,
    wait_for,
)
from tests.support.faults import answer_per_item

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

DAY = days_ago(1)
Rule = Callable[[str, str, bytes], Reply | None]


def _produce(
    kafka: ServerProcess, events: int, partitions: int = 3
) -> tuple[str, dict[str, bytes]]:
    bootstrap = f"127.0.0.1:{kafka.port}"
    return bootstrap, produce_sample(bootstrap, "filebeat-f", partitions, events, DAY)


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
    bootstrap: str,
    es_url: str,
    produced: dict[str, bytes],
    tmp_path: Path,
    *,
    duplicates_possible: bool = False,
    **env: str,
) -> IndexerProcess:
    indexer = IndexerProcess(indexer_env(bootstrap, es_url, **env), tmp_path / "i.log").start()
    finish_and_check(
        bootstrap, es_url, produced, [indexer], duplicates_possible=duplicates_possible
    )
    return indexer


def _bulk_ids(body: bytes) -> list[str]:
    """The `_id` of every action in a bulk body, in order."""
    lines = body.splitlines()
    return [str(next(iter(json.loads(lines[i]).values()))["_id"]) for i in range(0, len(lines), 2)]


@pytest.mark.timeout(300)  # 20,000 events into osmem, a 30 s freeze, beside another worker
def test_elasticsearch_frozen_for_30_s_pauses_the_indexer_with_flat_memory_and_it_resumes(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 20_000)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        # Short, so the freeze is noticed soon, but not below what a 500-document bulk takes on
        # a loaded machine: at 2 s, the bulks abandoned during the freeze, which the server still
        # executes after it, kept every new bulk past its timeout (each retry adding one more).
        INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS="6",
        INDEXER_BATCH__MAX_BUFFERED_BYTES=str(4 * 1024 * 1024),
        INDEXER_BATCH__MAX_DOCS="500",
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 2000, 30, "indexing under way")
    es_server.pause()
    frozen_at = time.monotonic()
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
        frozen_for = time.monotonic() - frozen_at
    wait_for(lambda: count(es_proxy.url) >= len(produced), 150, "the rest indexed after resume")
    assert _readyz(indexer) == 200
    retry_lines = log_events(indexer.log_lines(), "retrying")
    # At most one line every five seconds of the freeze (which lasts longer on a loaded machine),
    # one more as it ends.
    assert 1 <= len(retry_lines) <= frozen_for / 5 + 2, (len(retry_lines), frozen_for)
    # Bulks timed out while the server was frozen may have reached it: their retries meet them.
    finish_and_check(bootstrap, es_proxy.url, produced, [indexer], duplicates_possible=True)


# What each product calls its write-pressure rejection (REAL-CLUSTERS.md §6).
REJECTED_EXECUTION = {
    "elasticsearch": "es_rejected_execution_exception",
    "opensearch": "rejected_execution_exception",
}
WRITE_BLOCK = "index [{index}] blocked by: [FORBIDDEN/8/index write (api)];"


class PartialRefusal:
    """A fault rule for bulks: forward a random share of each bulk's items to the real server,
    answer the rest `status` (429 unless told) with `error_type`, as the real cluster words it.

    It remembers each `_id`'s answers, so a test can tell item-by-item retries (a later bulk
    carries only ids refused before) from re-sending whole chunks (ids accepted before come
    again)."""

    def __init__(
        self,
        upstream_port: int,
        share: float,
        seed: int = 3,
        status: int = 429,
        error_type: str = "es_rejected_execution_exception",
        reason: str = "rejected execution of coordinating operation",
    ) -> None:
        self._upstream_port = upstream_port
        self._share = share
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._refusal = {"status": status, "error": {"type": error_type, "reason": reason}}
        self.refused: set[str] = set()
        self.accepted: set[str] = set()
        self.resent_after_acceptance: list[str] = []

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" not in path:
            return None
        ids = _bulk_ids(body)
        with self._lock:
            held = [self._rng.random() < self._share for _ in ids]
            self.resent_after_acceptance += [i for i in ids if i in self.accepted]
            for doc_id, h in zip(ids, held, strict=True):
                (self.refused if h else self.accepted).add(doc_id)
        refusal = {"create": self._refusal}
        return answer_per_item(self._upstream_port, body, [refusal if h else None for h in held])


def test_partial_item_429s_are_retried_item_by_item_until_all_are_in(
    kafka: ServerProcess,
    es_server: ServerProcess,
    es_proxy: CompatProxy,
    tmp_path: Path,
    product: Product,
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    refusal = PartialRefusal(es_server.port, share=0.3, error_type=REJECTED_EXECUTION[product])
    es_proxy.fault = refusal
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path, INDEXER_BATCH__MAX_DOCS="500")
    assert len(refusal.refused) > 500  # the fault really refused items, many of them
    assert refusal.resent_after_acceptance == []  # retries carried only the refused items


def test_items_refused_by_a_write_block_are_retried_until_the_block_lifts_not_dead_lettered(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # OpenSearch's force_merge (or an operator) sets index.blocks.write: 403 on every item
    # (REAL-CLUSTERS.md §5). Here a random 30% of the items meet it, each time.
    bootstrap, produced = _produce(kafka, 2000)
    refusal = PartialRefusal(
        es_server.port,
        share=0.3,
        status=403,
        error_type="cluster_block_exception",
        reason=WRITE_BLOCK.format(index="k8s-logs-payments_api-x"),
    )
    es_proxy.fault = refusal
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path, INDEXER_BATCH__MAX_DOCS="500")
    assert len(refusal.refused) > 300
    assert refusal.resent_after_acceptance == []


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
        # Answered late, after the client gave up: the request still reaches the server, so its
        # retry meets its first copy (409, counted as duplicates). The only case here where one
        # may.
        pytest.param([(0.3, Reply(forward=True, delay=1.5))], id="slow-responses"),
    ],
)
def test_whole_request_failures_are_retried_and_nothing_is_lost_or_doubled(
    kafka: ServerProcess,
    es_proxy: CompatProxy,
    tmp_path: Path,
    fault: list[tuple[float, Reply]],
    request: pytest.FixtureRequest,
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    es_proxy.fault = _storm(fault)
    # Only the slow responses need the client to time out; elsewhere a timeout on a loaded
    # machine would re-send a request the server did answer, and hide a real duplicate.
    slow = "slow-responses" in request.node.callspec.id
    _run_to_completion(
        bootstrap,
        es_proxy.url,
        produced,
        tmp_path,
        duplicates_possible=slow,
        INDEXER_BATCH__MAX_DOCS="300",
        INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS="1" if slow else "30",
    )
    bulks = [r for r in es_proxy.requests if "_bulk" in r.path]
    assert len(bulks) > 3000 / 300  # failures were met and retried


LIMIT = 40_000


def test_a_413_splits_the_batch_until_the_cluster_accepts_it(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 3000)
    # Elasticsearch's own 413: no body, Content-Length 0, then it closes the connection
    # (REAL-CLUSTERS.md §8, Netty4HttpContentSizeHandler).
    too_large = Reply(413, b"", close=True)
    es_proxy.fault = lambda m, p, body: too_large if "_bulk" in p and len(body) > LIMIT else None
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path)
    bulks = [r.body for r in es_proxy.requests if "_bulk" in r.path]
    refused = [body for body in bulks if len(body) > LIMIT]
    accepted = [body for body in bulks if len(body) <= LIMIT]
    assert refused  # it tried big batches first
    # Everything went in through bulks under the limit, each document in exactly one of them.
    accepted_ids = [doc_id for body in accepted for doc_id in _bulk_ids(body)]
    assert sorted(accepted_ids) == sorted(documents_by_id(es_proxy.url))
    refused_ids = {doc_id for body in refused for doc_id in _bulk_ids(body)}
    assert refused_ids <= set(accepted_ids)  # what was refused came again, split


# Prefetch shrunk to about 1.2 MB (librdkafka's queue and the indexer's own budget), so the
# 7 MB topic cannot be read ahead before the freeze: only the broker can feed the indexer.
SMALL_PREFETCH = {
    "queued.max.messages.kbytes": 128,
    "fetch.message.max.bytes": 32768,
    "fetch.max.bytes": 65536,
    "message.max.bytes": 65536,  # librdkafka wants fetch.max.bytes >= message.max.bytes
}


def test_a_broker_frozen_past_the_session_timeout_stops_indexing_which_resumes_after(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 12_000)
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_KAFKA__OPTIONS=json.dumps({**FAST_GROUP, **SMALL_PREFETCH}),
        INDEXER_BATCH__MAX_BUFFERED_BYTES=str(1024 * 1024),
        INDEXER_BATCH__MAX_DOCS="500",
    )
    es_proxy.fault = lambda m, p, b: Reply(forward=True, delay=0.1) if "_bulk" in p else None
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 1000, 30, "indexing under way")
    kafka.pause()
    try:
        es_proxy.fault = None  # what was prefetched drains at full speed
        time.sleep(4)
        during = [count(es_proxy.url)]
        time.sleep(FAST_GROUP["session.timeout.ms"] / 1000 + 2)  # past the session timeout
        during.append(count(es_proxy.url))
    finally:
        kafka.resume()
    # Indexing stopped with the broker: nothing arrived in the last 8 s of the freeze.
    assert during[0] == during[1] < len(produced) / 2, during
    # Duplicates may come: a member expelled while the broker was frozen re-reads from its commit.
    finish_and_check(bootstrap, es_proxy.url, produced, [indexer], duplicates_possible=True)


def test_scaling_from_one_to_two_to_one_member_mid_stream_loses_and_doubles_nothing(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap, produced = _produce(kafka, 9000, partitions=4)
    es_proxy.fault = lambda m, p, b: Reply(forward=True, delay=0.15) if "_bulk" in p else None
    # A small buffer keeps each revoke's drain short (the whole topic buffered behind slow bulks
    # took more than the drain timeout on a loaded machine); the drain timeout leaves room.
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_BATCH__MAX_DOCS="200",
        INDEXER_BATCH__MAX_BUFFERED_BYTES=str(1024 * 1024),
        INDEXER_SHUTDOWN__DRAIN_TIMEOUT_SECONDS="30",
    )
    first = IndexerProcess(env, tmp_path / "first.log").start()
    wait_for(lambda: count(es_proxy.url) >= 1500, 30, "the first member indexing")
    second = IndexerProcess(env, tmp_path / "second.log").start()
    wait_for(
        lambda: any(
            line["partitions"] for line in log_events(second.log_lines(), "partitions_assigned")
        ),
        60,  # a join (3 s here) and the first member's revoke drain; slower on a loaded machine
        "the second member to get partitions",
    )
    wait_for(lambda: count(es_proxy.url) >= 5000, 40, "both members indexing")
    assert second.stop() == 0
    es_proxy.fault = None
    revoked = log_events(first.log_lines(), "partitions_revoked")
    assert revoked and all(line["drained"] and line["committed"] != "failed" for line in revoked)
    # The second stopped cleanly after a drain and a commit: its partitions were handed over
    # committed, and the first re-met nothing.
    finish_and_check(bootstrap, es_proxy.url, produced, [first], duplicates_possible=False)


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
    errors = log_events(indexer.log_lines(), "exiting")
    assert errors and "dead-letter circuit breaker" in errors[0]["reason"]
    # It trips once the window (200) is full of dead letters, in the batch (50 messages at most)
    # that fills it: no offset past that batch is committed, and the rest is never written.
    assert count(es_proxy.url) == 0
    written = count(es_proxy.url, DEADLETTERS)
    assert 200 <= written < 600, written
    committed = committed_offsets(bootstrap).get(("filebeat-storm", 0), 0)
    assert committed <= 250, committed


LOGIN_PAGE = b"<!DOCTYPE html><html><body><h1>Sign in</h1><form>...</form></body></html>"


class NotJsonAnswers:
    """A misbehaving proxy in front of the cluster: the first bulks and index creations are
    answered 200 with an HTML page (as `text/html`, then labelled `application/json`, then a
    truncated JSON body), after which everything passes."""

    def __init__(self, bulks: int, creations: int) -> None:
        self.bulks = bulks
        self.creations = creations
        self.answered = 0
        self._lock = threading.Lock()
        self._pages = [
            Reply(200, LOGIN_PAGE, content_type="text/html"),
            Reply(200, LOGIN_PAGE),
            Reply(200, b'{"errors":true,"items":[{"create":{"sta'),
        ]

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        with self._lock:
            if "_bulk" in path and self.bulks > 0:
                self.bulks -= 1
            elif method == "PUT" and path.startswith("/k8s-logs-") and self.creations > 0:
                self.creations -= 1
            else:
                return None
            self.answered += 1
            return self._pages[self.answered % len(self._pages)]


def test_a_200_whose_body_is_not_json_on_bulks_and_index_creation_is_retried_never_dead_lettered(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    """Before, on OpenSearch, such an answer raised an exception that was neither retried nor an
    outcome: exit 1 and a crash loop on bulks, dead letters when it came while preparing an index."""
    bootstrap, produced = _produce(kafka, 600)
    rule = NotJsonAnswers(bulks=4, creations=3)
    es_proxy.fault = rule
    # Stored once each with its content, nothing dead-lettered, committed, stopped cleanly.
    _run_to_completion(bootstrap, es_proxy.url, produced, tmp_path)
    assert rule.answered == 7
