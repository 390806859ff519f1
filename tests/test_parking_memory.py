"""Peak memory of `indexer run` while one red index gets a small share of a large backlog: the
parked documents are counted with all they hold and stay within `retry.park_max_bytes`, and the
process's peak RSS (the kernel's `VmHWM`) stays within the bound docs/operations.md ("Memory")
states, while every other app is stored and committed; once the index heals everything is
stored once.

The RSS bound carries a stated allocator slack (freed memory glibc keeps, transient copies),
measured at 29 to 58 MiB over the budgets in five runs and given 80 MiB, so a loaded machine
does not make it flaky; parking's own account is exact. Before (7b710fd), each parked line kept
its whole batch while the budget counted the line alone: here the old code counted 1.21 MiB for
the 2.46 MiB it parked, and its peak RSS was 174 MiB over the base (bound: 104). Each of the two
assertions fails on it alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from tests.replay.helpers import DAY, at, event
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    cluster,
    committed_offsets,
    count,
    create_topic,
    ends_of,
    expected_source,
    indexer_env,
    produce,
    record_of,
    wait_for,
)
from tests.support.faults import RefuseItemsInto

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TOPIC = "filebeat-mem"
PARTITIONS = 4
APPS = 12
EVENTS = 10_000
RED_EVERY = 200
RED_AT = (1, 2, 3)  # 1.5% of the backlog, in partitions 1 to 3 (3/4 of it); partition 0 has none
RED_APP = "payments"
RED_PREFIX = f"k8s-logs-shop_{RED_APP}"
FILLER = "f" * 8000  # big events: memory, not the test server's document rate, is what is tested
MIB = 1024 * 1024
BUDGETS = {  # small, so the backlog (about 165 MB of values and lines) is many times their sum
    "INDEXER_BATCH__MAX_DOCS": "500",
    "INDEXER_BATCH__MAX_BYTES": str(1 * MIB),
    "INDEXER_BATCH__MAX_BUFFERED_BYTES": str(4 * MIB),
    "INDEXER_BATCH__MAX_IN_FLIGHT": "2",
    "INDEXER_RETRY__PARK_MAX_BYTES": str(4 * MIB),
    "INDEXER_RETRY__PARK_AFTER_ATTEMPTS": "1",
    "INDEXER_RETRY__PARK_MAX_SECONDS": "0",
    "INDEXER_RETRY__INITIAL_BACKOFF_SECONDS": "0.05",
}
PREFETCH_KIB = 2048  # librdkafka's queued.max.messages.kbytes, one of the bound's terms
ALLOCATOR_SLACK_MIB = 80  # docs/operations.md, "Memory": 29 to 58 MiB measured here
UNAVAILABLE = {
    "type": "unavailable_shards_exception",
    "reason": f"[{RED_PREFIX}-{DAY}][0] primary shard is not active Timeout: [1m]",
}


def documented_bound_mib(base_mib: float) -> float:
    """docs/operations.md's bound above the warmed-up process: 2 x buffered + 3 x in flight x
    max_bytes + the park budget + 3 x the prefetch queue + the stated allocator slack."""
    return (
        base_mib
        + 2 * int(BUDGETS["INDEXER_BATCH__MAX_BUFFERED_BYTES"]) / MIB
        + 3
        * int(BUDGETS["INDEXER_BATCH__MAX_IN_FLIGHT"])
        * int(BUDGETS["INDEXER_BATCH__MAX_BYTES"])
        / MIB
        + int(BUDGETS["INDEXER_RETRY__PARK_MAX_BYTES"]) / MIB
        + 3 * PREFETCH_KIB / 1024
        + ALLOCATOR_SLACK_MIB
    )


def _status_mib(indexer: IndexerProcess, field: str) -> float:
    assert indexer.proc is not None
    for line in Path(f"/proc/{indexer.proc.pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise AssertionError(f"no {field} in /proc/{indexer.proc.pid}/status")


def _records(es_url: str, index: str) -> list[str]:
    """The Kafka record of every document in `index` (only its `kafka` fields travel)."""
    es = cluster(es_url)
    try:
        es.request("POST", f"/{index}/_refresh")
        found: list[str] = []
        body = {"query": {"match_all": {}}, "size": 5000, "sort": ["_doc"], "_source": ["kafka"]}
        answer = es.request("POST", f"/{index}/_search", body, {"scroll": "1m"})
        while answer["hits"]["hits"]:
            found.extend(record_of(hit["_source"]) for hit in answer["hits"]["hits"])
            answer = es.request(
                "POST", "/_search/scroll", {"scroll": "1m", "scroll_id": answer["_scroll_id"]}
            )
        return found
    finally:
        es.close()


def _sample(es_url: str, index: str, size: int) -> list[dict[str, Any]]:
    """`size` whole documents of `index`."""
    es = cluster(es_url)
    try:
        answer = es.request("POST", f"/{index}/_search", {"query": {"match_all": {}}, "size": size})
        return [hit["_source"] for hit in answer["hits"]["hits"]]
    finally:
        es.close()


def _same_content(produced: dict[str, bytes], sources: list[dict[str, Any]]) -> None:
    for source in sources:
        expected = expected_source(produced[record_of(source)])
        assert {key: source.get(key) for key in expected} == expected, record_of(source)


# Parking is no dialect's subject: one bed.
@pytest.mark.parametrize("product", ["elasticsearch"])
def test_one_red_index_with_a_small_share_of_a_large_backlog_keeps_memory_within_the_bound(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, PARTITIONS)
    options = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    env = indexer_env(
        bootstrap,
        es_proxy.url,
        INDEXER_KAFKA__OPTIONS=json.dumps({**options, "queued.max.messages.kbytes": PREFETCH_KIB}),
        **BUDGETS,
    )
    # The base: the process warmed up on events of the same shape (every app's index prepared,
    # the clients' connections open), nothing parked.
    warm = [event("shop", f"app{n % APPS}", at(0), n=n, filler=FILLER) for n in range(APPS * 20)]
    warm.append(event("shop", RED_APP, at(0), n=-1, filler=FILLER))
    produced = produce(bootstrap, TOPIC, warm, partitions=PARTITIONS)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_proxy.url) >= len(warm), 60, "the warm-up stored")
    base_mib = _status_mib(indexer, "VmHWM")

    red = RefuseItemsInto(es_server.port, RED_PREFIX, 503, UNAVAILABLE)
    es_proxy.fault = red
    values = [
        event("shop", RED_APP, at(1), n=n, filler=FILLER)
        if n % RED_EVERY in RED_AT
        else event("shop", f"app{n % APPS}", at(1), n=n, filler=FILLER)
        for n in range(EVENTS)
    ]
    backlog = produce(bootstrap, TOPIC, values, partitions=PARTITIONS)
    produced.update(backlog)
    red_records = {r for r, v in backlog.items() if f"/{RED_APP}/".encode() in v}
    assert len(red_records) == EVENTS // RED_EVERY * len(RED_AT)
    assert {int(r.rsplit(":", 2)[1]) for r in red_records} == set(RED_AT)
    healthy = len(produced) - len(red_records) - 1  # the warm-up's red event is stored

    parked_peak = 0.0

    def stored_while_sampling() -> bool:
        nonlocal parked_peak
        parked_peak = max(parked_peak, indexer.metric("indexer_parked_bytes"))
        es_proxy.requests.clear()  # it records every body, in this process
        return count(es_proxy.url, "k8s-logs-shop_app*") >= healthy

    wait_for(stored_while_sampling, 120, "every other app's event stored")
    wait_for(
        lambda: indexer.metric("indexer_index_parked_documents") == len(red_records),
        30,
        "every red document parked",
    )
    parked_bytes = indexer.metric("indexer_parked_bytes")
    parked_peak = max(parked_peak, parked_bytes)
    ends = ends_of(produced)
    expected_commits = {**ends}
    for record in red_records:
        topic, partition, offset = record.rsplit(":", 2)
        tp = (topic, int(partition))
        expected_commits[tp] = min(expected_commits[tp], int(offset))
    wait_for(lambda: committed_offsets(bootstrap) == expected_commits, 30, "the commits")
    peak_mib = _status_mib(indexer, "VmHWM")
    bound_mib = documented_bound_mib(base_mib)
    print(
        f"base {base_mib:.0f} MiB, peak {peak_mib:.0f} MiB, bound {bound_mib:.0f} MiB; parked "
        f"{parked_bytes / MIB:.2f} MiB (peak {parked_peak / MIB:.2f} MiB) of "
        f"{len(red_records)} documents"
    )

    # Every other app: stored once, by content (a sample) and by record (all), committed to the
    # end of the partitions without a red message.
    others = _records(es_proxy.url, "k8s-logs-shop_app*")
    assert len(others) == len(set(others)) == healthy
    assert set(others) == {r for r, v in produced.items() if f"/{RED_APP}/".encode() not in v}
    _same_content(produced, _sample(es_proxy.url, "k8s-logs-shop_app*", 300))
    assert count(es_proxy.url, f"{RED_PREFIX}-*") == 1  # the warm-up's; none of the backlog's
    # Parking counts all it holds, within its budget: each red document its line, its value and
    # the stated overhead (about 17 KB here; before, the line alone was counted), not its batch.
    assert 0 < parked_peak <= int(BUDGETS["INDEXER_RETRY__PARK_MAX_BYTES"])
    assert len(red_records) * (2 * len(FILLER) + 512) <= parked_bytes <= len(red_records) * 18_000
    assert peak_mib <= bound_mib, f"peak RSS {peak_mib:.0f} MiB over the bound {bound_mib:.0f}"

    es_proxy.fault = None  # healed
    wait_for(
        lambda: indexer.metric("indexer_parked_bytes") == 0, 30, "the parked documents written"
    )
    wait_for(lambda: committed_offsets(bootstrap) == ends, 30, "every offset committed")
    assert indexer.metric("indexer_events_deadlettered_total") == 0
    assert indexer.metric("indexer_events_duplicate_total") == 0
    assert indexer.stop() == 0
    everything = _records(es_proxy.url, "k8s-logs-*_*")
    assert len(everything) == len(set(everything)) and set(everything) == set(produced)
    assert count(es_proxy.url, DEADLETTERS) == 0
    _same_content(produced, _sample(es_proxy.url, f"{RED_PREFIX}-*", 200))
