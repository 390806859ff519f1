"""Parking in one process against the real server: the real `BulkWriter` through the fault proxy
parks the items of a red index, and `Parking` keeps them. What it holds is bounded by what it
counts; revoked partitions are dropped; an error in its thread is survived."""

from __future__ import annotations

import gc
import json
import queue
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Message

from indexer import metrics
from indexer.batch import Batch
from indexer.embedded import CompatProxy, Reply, ServerProcess
from indexer.encode import encode
from indexer.parking import PARKED_DOCUMENT_OVERHEAD, Parking, Released
from indexer.replay.writing import Writing, build_writing
from indexer.settings import Settings
from tests.replay.helpers import DAY, at, iso
from tests.support import documents_by_id, wait_for
from tests.support.faults import RefuseItemsInto

RED = f"k8s-logs-red_app-{DAY}"
FINE = f"k8s-logs-fine_app-{DAY}"
DEADLETTERS = "k8s-logs-deadletter-*"
UNAVAILABLE = {
    "type": "unavailable_shards_exception",
    "reason": "[k8s-logs-red_app][0] primary shard is not active Timeout: [1m]",
}
FILLER = "x" * 900  # about 1 KB per message and per line


@dataclass
class Bed:
    writing: Writing
    parking: Parking
    red: RefuseItemsInto
    proxy: CompatProxy


@pytest.fixture
def bed(es_server: ServerProcess, es_proxy: CompatProxy) -> Iterator[Bed]:
    red = RefuseItemsInto(es_server.port, "k8s-logs-red_", 503, UNAVAILABLE)
    es_proxy.fault = red
    yield from _bed(es_proxy, red, time.monotonic, park_max_seconds=0)


def _bed(
    proxy: CompatProxy,
    red: RefuseItemsInto,
    clock: Callable[[], float],
    park_max_seconds: float,
) -> Iterator[Bed]:
    settings = Settings.model_validate(
        {
            "elasticsearch": {"hosts": [proxy.url], "request_timeout_seconds": 10},
            "retry": {
                "park_after_attempts": 1,
                "initial_backoff_seconds": 0.05,
                "max_backoff_seconds": 0.2,
                "park_max_seconds": park_max_seconds,
            },
        }
    )
    writing = build_writing(settings)
    parking = Parking(writing.writer, settings.retry, writing.stop, clock)
    try:
        yield Bed(writing, parking, red, proxy)
    finally:
        writing.stop.set()
        writing.close()


def _batch(first_offset: int, size: int, red_every: int, partitions: int = 1) -> Batch:
    """`size` documents of ~1 KB, every `red_every`-th into the red index; real `Message`s."""
    batch = Batch(created=time.monotonic())
    for n in range(size):
        offset = first_offset + n
        partition = n % partitions
        index = RED if n % red_every == 0 else FINE
        when = at(offset / 1000)
        document = {"@timestamp": iso(when), "message": f"line {offset} {FILLER}"}
        # json, not orjson: an orjson result keeps its 8 KB write buffer (tracemalloc sees it),
        # while a consumed message's value is exactly its size.
        value = json.dumps({**document, "n": offset}).encode()
        message = Message(
            topic="logs",
            partition=partition,
            offset=offset,
            value=value,
            timestamp=(1, int(when.timestamp() * 1000)),
        )
        batch.lines.append(encode(index, b"doc-%d" % offset, document))
        batch.messages.append(message)
        batch.indices[index] = batch.indices.get(index, 0) + 1
        batch.high[("logs", partition)] = offset
        batch.size += len(batch.lines[-1])
    return batch


def _write_and_park(bed: Bed, batch: Batch) -> dict[int, str]:
    result = bed.writing.writer.write(batch)
    if result.parked:
        bed.parking.park(batch, result.parked)
    return result.parked


def _released(parking: Parking, timeout: float) -> list[Released]:
    got: list[Released] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(parking.released.get(timeout=0.1))
        except queue.Empty:
            if got:
                return got
    return got


def test_a_parked_document_holds_its_own_bytes_not_its_whole_batch_and_all_it_holds_is_counted(
    bed: Bed,
) -> None:
    """One red line in each of ten 400-document batches: before, each parked line kept its whole
    batch (~0.8 MB) while the budget counted ~1 KB of it."""
    _write_and_park(bed, _batch(100_000, 400, red_every=400))  # indices, templates, connections
    bed.proxy.requests.clear()
    first = bed.parking.bytes
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        parked = 0
        for n in range(10):
            batch = _batch(n * 1000, 400, red_every=400)
            parked += len(_write_and_park(bed, batch))
            del batch
        bed.proxy.requests.clear()  # the proxy runs in this process and records every body
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert parked == 10
    assert bed.red.refused >= 11
    counted = bed.parking.bytes - first
    # Each parked document: its ~1 KB line, its ~1 KB value and the stated overhead.
    assert (
        10 * (2000 + PARKED_DOCUMENT_OVERHEAD) <= counted <= 10 * (2400 + PARKED_DOCUMENT_OVERHEAD)
    )
    # What the process retained is what the budget counts plus the in-process proxy's, client's
    # and logger's small state (~80 KB seen), not ten batches: 10 x 400 documents x ~2 KB ~ 8 MB.
    assert held < counted + 256 * 1024, (held, counted)
    assert len(documents_by_id(bed.proxy.url, FINE)) == 11 * 399


def test_revoked_partitions_lose_their_parked_documents_and_the_rest_is_written_once_healed(
    bed: Bed,
) -> None:
    batch = _batch(0, 40, red_every=4, partitions=2)  # red at offsets 0, 4, 8, ...: partition 0
    other = _batch(100, 40, red_every=3, partitions=2)  # red at 0, 3, 6, ...: both partitions
    assert len(_write_and_park(bed, batch)) == 10
    assert len(_write_and_park(bed, other)) == 14
    before = bed.parking.bytes

    dropped = bed.parking.forget({("logs", 0)})

    assert dropped == 10 + 7
    assert 0 < bed.parking.bytes < before
    # The batch whose parked documents were all in partition 0 is released at once: nothing of
    # it is ours to write any more.
    (first,) = _released(bed.parking, 2)
    assert first.batch.seq == batch.seq and first.result is not None
    assert first.result.documents == 0

    bed.proxy.fault = None  # healed
    (second,) = _released(bed.parking, 10)
    assert second.batch.seq == other.seq and second.result is not None
    assert second.result.indexed == second.result.documents == 7
    stored = documents_by_id(bed.proxy.url, RED)
    kept = {f"doc-{100 + n}" for n in range(0, 40, 3) if n % 2 == 1}
    assert set(stored) == kept, "a revoked partition's document was written by the old owner"
    assert bed.parking.bytes == 0


def test_parked_documents_of_a_revoked_partition_are_not_dead_lettered_at_expiry(
    es_server: ServerProcess, es_proxy: CompatProxy
) -> None:
    red = RefuseItemsInto(es_server.port, "k8s-logs-red_", 503, UNAVAILABLE)
    es_proxy.fault = red
    for bed in _bed(es_proxy, red, time.monotonic, park_max_seconds=1.0):
        batch = _batch(0, 20, red_every=2, partitions=2)  # red: even offsets, partition 0 ...
        batch.messages[2] = _moved(batch.messages[2], partition=1)  # ... but one in partition 1
        assert len(_write_and_park(bed, batch)) == 10
        assert bed.parking.forget({("logs", 0)}) == 9

        (released,) = _released(bed.parking, 10)

        assert released.result is not None
        assert released.result.deadlettered == {"retry_exhausted": 1}
        letters = documents_by_id(es_proxy.url, DEADLETTERS)
        assert [source["kafka"]["offset"] for _, source in letters.values()] == [2]


def _moved(message: Message, partition: int) -> Message:
    return Message(
        topic=message.topic(),
        partition=partition,
        offset=message.offset(),
        value=message.value(),
        timestamp=message.timestamp(),
    )


def test_an_error_in_the_parking_thread_is_logged_counted_and_survived(
    es_server: ServerProcess, es_proxy: CompatProxy
) -> None:
    """Before, any exception but one ended the thread silently: nothing parked was retried again
    while the pod looked healthy."""
    red = RefuseItemsInto(es_server.port, "k8s-logs-red_", 503, UNAVAILABLE)
    es_proxy.fault = red
    failing = threading.Event()

    def clock() -> float:
        if failing.is_set():
            failing.clear()
            raise RuntimeError("a bug in the parking thread")
        return time.monotonic()

    for bed in _bed(es_proxy, red, clock, park_max_seconds=0):
        before = metrics.PARKING_FAILURES._value.get()
        assert len(_write_and_park(bed, _batch(0, 10, red_every=5))) == 2
        failing.set()
        wait_for(lambda: not failing.is_set(), 5, "the thread met the error")
        es_proxy.fault = None

        (released,) = _released(bed.parking, 10)

        assert released.result is not None and released.result.indexed == 2
        assert metrics.PARKING_FAILURES._value.get() == before + 1
        assert bed.parking.failure() is None


class GoneAndBlocked:
    """The index was deleted behind the writer's back (404 on every item into it) and cannot be
    created again for now: OpenSearch's create-index block at high disk usage, in its words."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.creations = 0

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        if method == "PUT" and path.startswith(f"/{self.prefix}"):
            self.creations += 1
            error = {
                "type": "cluster_block_exception",
                "reason": "index [k8s-logs-gone_app] blocked by: [FORBIDDEN/10/cluster "
                "create-index blocked (api)];",
            }
            return Reply(403, json.dumps({"error": error, "status": 403}).encode())
        if "_bulk" not in path or not body.startswith(b'{"create"'):
            return None
        lines = body.splitlines()
        items = []
        for action in lines[::2]:
            index = json.loads(action)["create"]["_index"]
            if not index.startswith(self.prefix):
                return None  # mixed bulks are not what this test sends
            error = {"type": "index_not_found_exception", "reason": f"no such index [{index}]"}
            items.append({"create": {"_index": index, "status": 404, "error": error}})
        return Reply(200, json.dumps({"errors": True, "items": items}).encode())


def _into(index: str, batch: Batch) -> Batch:
    for name in (RED, FINE):
        batch.lines = [line.replace(name.encode(), index.encode()) for line in batch.lines]
    batch.indices = {index: len(batch.lines)}
    return batch


def test_an_index_gone_that_cannot_be_created_again_for_now_is_parked_not_retried_for_ever(
    bed: Bed,
) -> None:
    """Before, the writer retried the re-creation inside the round for ever: after a few such
    batches every writer, and so every tenant, waited on one index."""
    gone = f"k8s-logs-gone_app-{DAY}"
    batch = _into(gone, _batch(0, 5, red_every=1000))
    assert bed.writing.writer.write(batch).indexed == 5  # the index exists and is known
    bed.writing.client.request("DELETE", f"/{gone}")
    rule = GoneAndBlocked("k8s-logs-gone_")
    bed.proxy.fault = rule
    again = _into(gone, _batch(10, 5, red_every=1000))
    results: list[dict[int, str]] = []
    writing = threading.Thread(target=lambda: results.append(_write_and_park(bed, again)))

    writing.start()
    writing.join(30)

    assert not writing.is_alive(), "the writer is still re-creating the index"
    assert results == [dict.fromkeys(range(5), "index_blocked")]
    assert rule.creations >= 1
    bed.proxy.fault = None  # the block lifted: the parked documents go into a new index
    (released,) = _released(bed.parking, 10)
    assert released.result is not None and released.result.indexed == 5
    assert set(documents_by_id(bed.proxy.url, gone)) == {f"doc-{n}" for n in range(10, 15)}
