"""The bulk writer's suite, written once and run on two beds (as arroyo runs one suite against
its fake and its real Kafka):

- `ScriptedBed` (tests/unit/test_bulk_writer.py, the unit lane): `tests.scripted_cluster`
  answers with the literal bodies of each product; no server, no sleeping.
- `OsmemBed` (tests/test_bulk_writer_osmem.py, the cluster lane): the real osmem server behind
  the proxy, dressed as the product; the same rules inject what osmem never answers (429s, a
  413, a malformed answer, auto-create off) through the proxy's one per-item rule
  (`tests.support.faults.answer_per_item`); created, duplicate and mapping answers are osmem's own.

Each test builds a `BulkWriter` (and a `Parking`) in-process, with the backoff's sleep replaced
by `Bed.wait` (it records and returns at once) and, for parking, a clock that leaps.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from indexer.batch import Batch, Batcher, BatchPolicy
from indexer.bulk import BulkResult, BulkWriter
from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy, Product, Reply, ServerProcess
from indexer.encode import encode
from indexer.indices import IndexNotReady, IndexRejected
from indexer.parking import Parking
from indexer.salvage import SALVAGE_FIELD
from indexer.settings import RetrySettings
from tests.scripted_cluster import (
    HTML_PAGE,
    TOO_LARGE,
    Item,
    ItemRule,
    ScriptedCluster,
    Whole,
    index_not_found,
    rejected_execution,
)
from tests.support.faults import answer_per_item, bulk_items, item_target, upstream

APP = "k8s-logs-shop_cart-2026.12.06"
OTHER = "k8s-logs-shop_search-2026.12.06"
DEADLETTER_INDEX = "k8s-logs-deadletter-2026.12.06"
NOW_MILLIS = int(time.time() * 1000)


@dataclass(frozen=True)
class Msg:
    """A Kafka message as the writer reads it (value, key, coordinates, timestamp)."""

    offset_: int
    value_: bytes
    topic_: str = "filebeat"
    partition_: int = 0

    def value(self) -> bytes:
        return self.value_

    def key(self) -> bytes | None:
        return None

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def timestamp(self) -> tuple[int, int]:
        return (1, NOW_MILLIS)  # CREATE_TIME, now


_offsets = itertools.count()


def batch_of(*documents: tuple[str, dict[str, Any]]) -> Batch:
    """A sealed batch of (index, document), each from its own message of partition 0."""
    batcher = Batcher(BatchPolicy(max_docs=10_000, max_bytes=100_000_000, max_age=60), time.time)
    for index, document in documents:
        offset = next(_offsets)
        value = orjson.dumps(document)
        line = encode(index, f"filebeat:0:{offset}".encode(), document)
        assert batcher.add(Msg(offset, value), ("filebeat", 0), offset, index, line) is None
    sealed = batcher.flush()
    assert sealed is not None
    return sealed


def ids_of(body: bytes) -> list[str]:
    return [item_target(action)[1] for action, _ in bulk_items(body)]


@dataclass
class Ensurer:
    """The writer's `IndexEnsurer`: records each call, creates the index on the bed
    (`create`), and raises what `refuse` holds for an index."""

    create: Callable[[str], None]
    ensured: list[str] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)
    refuse: dict[str, Exception] = field(default_factory=dict)

    def ensure(self, index: str) -> str:
        self.ensured.append(index)
        if index in self.refuse:
            raise self.refuse[index]
        self.create(index)
        return index

    def forget(self, index: str) -> None:
        self.forgotten.append(index)


class Bed:
    """What a writer test needs from the cluster side, whichever bed answers."""

    product: Product
    client: SearchClient
    ensurer: Ensurer
    waits: list[float]
    reachable: list[bool]

    def wait(self, seconds: float) -> bool:
        """The backoff's sleep: recorded, never slept; never stopped."""
        self.waits.append(seconds)
        return False

    def rule(self, rule: ItemRule | None) -> None:
        """Answer bulk items with `rule` (None: the server answers)."""
        raise NotImplementedError

    def then(self, *answers: Whole) -> None:
        """Answer the next bulk requests with `answers`, one each."""
        raise NotImplementedError

    def limit(self, max_bytes: int) -> None:
        """Answer every bulk body over `max_bytes` 413 (`http.max_content_length`)."""
        raise NotImplementedError

    def maps_as_number(self, index: str, field_name: str) -> None:
        """Create `index` with `field_name` mapped `long`."""
        raise NotImplementedError

    def bulks(self) -> list[bytes]:
        """The bodies of the bulk requests sent, in order."""
        raise NotImplementedError

    def stored(self, index: str) -> dict[str, dict[str, Any]]:
        """The documents `index` holds, by `_id`."""
        raise NotImplementedError

    def writer(self, park_after: int = 3, max_original_bytes: int = 65536) -> BulkWriter:
        retry = RetrySettings(
            initial_backoff_seconds=0.2, max_backoff_seconds=30, park_after_attempts=park_after
        )
        return BulkWriter(
            self.client,
            self.ensurer,
            retry,
            lambda seconds: DEADLETTER_INDEX,
            threading.Event(),
            on_reachability=self.reachable.append,
            max_original_bytes=max_original_bytes,
            wait=self.wait,
        )


class ScriptedBed(Bed):
    def __init__(self, product: Product) -> None:
        self.product = product
        self.scripted = ScriptedCluster(product)
        self.client = self.scripted
        self.ensurer = Ensurer(lambda index: None)
        self.waits = []
        self.reachable = []

    def rule(self, rule: ItemRule | None) -> None:
        self.scripted.rule = rule

    def then(self, *answers: Whole) -> None:
        self.scripted.then(*answers)

    def limit(self, max_bytes: int) -> None:
        self.scripted.limit = max_bytes

    def maps_as_number(self, index: str, field_name: str) -> None:
        self.scripted.maps(index, field_name)

    def bulks(self) -> list[bytes]:
        return list(self.scripted.bulks)

    def stored(self, index: str) -> dict[str, dict[str, Any]]:
        return dict(self.scripted.stored.get(index, {}))


class OsmemBed(Bed):
    """osmem behind two proxies dressed as `product`: the client's, whose fault rule plays the
    script, and a plain one the rule forwards the other items to (so they are dressed too)."""

    def __init__(self, product: Product, server: ServerProcess) -> None:
        from tests.support import cluster

        self.product = product
        self._plain = CompatProxy(server.port, product).start()
        self._front = CompatProxy(server.port, product, fault=self._fault).start()
        self.client = cluster(self._front.url)
        self.ensurer = Ensurer(self._create)
        self.waits = []
        self.reachable = []
        self._rule: ItemRule | None = None
        self._then: list[Whole] = []
        self._limit: int | None = None
        self._lock = threading.Lock()

    def reset(self) -> None:
        """As new for the next test: no rule, nothing recorded, no index of ours left."""
        self.ensurer = Ensurer(self._create)
        self.waits = []
        self.reachable = []
        self._rule = None
        self._then = []
        self._limit = None
        status, data = upstream(self._plain.port, "DELETE", "/k8s-logs-*", None)
        assert status == 200, data
        self._front.requests.clear()

    def close(self) -> None:
        self.client.close()
        self._front.stop()
        self._plain.stop()

    def _create(self, index: str) -> None:
        status, data = upstream(self._plain.port, "PUT", f"/{index}", b"{}")
        assert status == 200 or b"resource_already_exists_exception" in data, data

    def _fault(self, method: str, path: str, body: bytes) -> Reply | None:
        if "_bulk" not in path:
            return None
        with self._lock:
            answer = self._then.pop(0) if self._then else None
        if answer is None and self._limit is not None and len(body) > self._limit:
            answer = TOO_LARGE
        if answer is not None:
            return Reply(
                answer.status, answer.body, content_type=answer.content_type, close=not answer.body
            )
        rule = self._rule
        if rule is None:
            return None
        decided: list[Item | None] = [
            rule(i, action, source) for i, (action, source) in enumerate(bulk_items(body))
        ]
        return answer_per_item(self._plain.port, body, decided)

    def rule(self, rule: ItemRule | None) -> None:
        self._rule = rule

    def then(self, *answers: Whole) -> None:
        with self._lock:
            self._then.extend(answers)

    def limit(self, max_bytes: int) -> None:
        self._limit = max_bytes

    def maps_as_number(self, index: str, field_name: str) -> None:
        mappings = {"mappings": {"properties": {field_name: {"type": "long"}}}}
        status, data = upstream(self._plain.port, "PUT", f"/{index}", orjson.dumps(mappings))
        assert status == 200, data

    def bulks(self) -> list[bytes]:
        return [r.body for r in self._front.requests if "_bulk" in r.path]

    def stored(self, index: str) -> dict[str, dict[str, Any]]:
        from tests.support import documents_by_id

        return {
            doc_id: source
            for doc_id, (_, source) in documents_by_id(self._front.url, index).items()
        }


def refuse_first(answer: Callable[[str, str], Item], ids: set[str], times: int = 1) -> ItemRule:
    """A rule answering `answer(index, id)` to the items of `ids`, the first `times` times each."""
    seen: dict[str, int] = {}

    def rule(position: int, action: bytes, source: bytes) -> Item | None:
        index, doc_id = item_target(action)
        if doc_id not in ids or seen.get(doc_id, 0) >= times:
            return None
        seen[doc_id] = seen.get(doc_id, 0) + 1
        return answer(index, doc_id)

    return rule


def _line_ids(batch: Batch) -> list[str]:
    return [ids_of(line)[0] for line in batch.lines]


class LeapingClock:
    """A clock that moves `step` seconds each time it is read: every parked lot is due at once,
    and a document parked longer than `park_max_seconds` is found so at its first retry."""

    def __init__(self, step: float) -> None:
        self.now = 1_000_000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class WriterSuite:
    """The tests; a subclass provides the `bed` fixture."""

    @pytest.fixture
    def bed(self) -> Iterator[Bed]:
        raise NotImplementedError

    def test_documents_created_are_indexed_in_one_request(self, bed: Bed) -> None:
        batch = batch_of(*[(APP, {"message": f"m{n}"}) for n in range(5)])
        result = bed.writer().write(batch)
        assert (result.indexed, result.requests, result.duplicates) == (5, 1, 0)
        assert set(bed.stored(APP)) == set(_line_ids(batch))
        assert bed.ensurer.ensured == [APP]
        assert bed.waits == [] and bed.reachable == [True]

    def test_a_document_the_index_holds_already_is_a_duplicate(self, bed: Bed) -> None:
        batch = batch_of(*[(APP, {"message": f"m{n}"}) for n in range(3)])
        writer = bed.writer()
        writer.write(batch)
        again = writer.write(batch)
        assert (again.indexed, again.duplicates, again.deadlettered) == (0, 3, {})

    def test_a_value_its_mapping_refuses_is_salvaged(self, bed: Bed) -> None:
        bed.maps_as_number(APP, "status")
        batch = batch_of(
            (APP, {"message": "ok", "status": 200}), (APP, {"message": "x", "status": "OK"})
        )
        result = bed.writer().write(batch)
        assert (result.indexed, result.salvaged, result.deadlettered) == (2, 1, {})
        salvaged = bed.stored(APP)[_line_ids(batch)[1]]
        assert "status" not in salvaged and salvaged["message"] == "x"
        assert len(bed.bulks()) == 2  # the batch, then the salvaged copy alone

    def test_a_refusal_salvage_cannot_repair_is_a_dead_letter_named_as_the_product_names_it(
        self, bed: Bed
    ) -> None:
        # Salvaged once already (it carries the salvage field): never salvaged twice.
        bed.maps_as_number(APP, "status")
        document = {"message": "y", "status": "OK", SALVAGE_FIELD: {"status": "x"}}
        batch = batch_of((APP, {"message": "ok"}), (APP, document))
        result = bed.writer().write(batch)
        # REAL-CLUSTERS.md §6: Elasticsearch since 8.8 names it document_parsing_exception.
        kind = {
            "elasticsearch": "document_parsing_exception",
            "opensearch": "mapper_parsing_exception",
        }[bed.product]
        assert (result.indexed, result.salvaged, result.deadlettered) == (1, 0, {kind: 1})
        (letter,) = bed.stored(DEADLETTER_INDEX).values()
        assert letter["error"]["type"] == kind
        assert "failed to parse field [status]" in letter["error"]["message"]
        assert letter["deadletter"]["target_index"] == APP

    def test_items_answered_429_are_sent_again_alone_after_a_backoff(self, bed: Bed) -> None:
        batch = batch_of(*[(APP, {"message": f"m{n}"}) for n in range(6)])
        ids = _line_ids(batch)
        bed.rule(refuse_first(lambda index, i: rejected_execution(bed.product), set(ids[1::2])))
        result = bed.writer().write(batch)
        assert (result.indexed, result.retried_items, result.requests) == (6, 3, 2)
        assert ids_of(bed.bulks()[1]) == ids[1::2]
        assert set(bed.stored(APP)) == set(ids)
        assert len(bed.waits) == 1

    def test_items_still_refused_after_the_rounds_are_parked_with_their_error_type(
        self, bed: Bed
    ) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        ids = _line_ids(batch)
        bed.rule(refuse_first(lambda index, i: rejected_execution(bed.product), {ids[1]}, 99))
        result = bed.writer(park_after=2).write(batch)
        kind = rejected_execution(bed.product)["create"]["error"]["type"]
        assert (result.indexed, result.parked) == (1, {1: kind})
        assert bed.stored(OTHER) == {} and len(bed.bulks()) == 2

    def test_a_413_halves_the_request_on_the_spot(self, bed: Bed) -> None:
        batch = batch_of(*[(APP, {"message": f"m{n}"}) for n in range(4)])
        ids = _line_ids(batch)
        bed.then(TOO_LARGE)
        result = bed.writer().write(batch)
        assert (result.indexed, result.requests) == (4, 2)
        assert [ids_of(b) for b in bed.bulks()] == [ids, ids[:2], ids[2:]]
        assert bed.waits == []  # split at once, not retried

    def test_a_document_alone_over_the_limit_is_a_dead_letter_written_shrunk(
        self, bed: Bed
    ) -> None:
        big = {"message": "x" * 20_000}
        batch = batch_of((APP, {"message": "small"}), (APP, big))
        bed.ensurer.create(DEADLETTER_INDEX)
        bed.limit(8_000)
        result = bed.writer(max_original_bytes=65536).write(batch)
        assert (result.indexed, result.deadlettered) == (1, {"request_entity_too_large": 1})
        (letter,) = bed.stored(DEADLETTER_INDEX).values()
        assert letter["error"]["type"] == "request_entity_too_large"
        assert letter["deadletter"]["truncated"] is True
        assert letter["deadletter"]["original_size"] > 20_000
        letters = [b for b in bed.bulks() if DEADLETTER_INDEX.encode() in b]
        assert len(letters) > 1 and len(letters[-1]) <= 8_000  # refused, then kept smaller
        # Halved each time, from 65,536 bytes: the first half that fits the 8,000-byte limit.
        assert len(letter["event"]["original"].encode()) == 65536 // 16

    @pytest.mark.parametrize(
        "answer",
        [
            Whole(200, b'{"errors":true,"items":[]}'),  # items that do not match the request
            Whole(200, b'{"errors":true}'),
            HTML_PAGE,  # a 2xx a misbehaving proxy sends
            Whole(503, b'{"error":{"type":"unavailable","reason":"no master"},"status":503}'),
        ],
    )
    def test_a_malformed_or_failed_answer_sends_the_request_again_whole(
        self, bed: Bed, answer: Whole
    ) -> None:
        batch = batch_of(*[(APP, {"message": f"m{n}"}) for n in range(3)])
        bed.then(answer)
        result = bed.writer().write(batch)
        assert (result.indexed, result.duplicates, result.requests) == (3, 0, 1)
        assert [ids_of(b) for b in bed.bulks()] == [_line_ids(batch)] * 2
        assert len(bed.waits) == 1
        # A JSON answer came from a cluster that answers; a 5xx or a page that is not JSON did not.
        json_2xx = answer.status == 200 and answer.content_type == "application/json"
        assert bed.reachable == ([True, True] if json_2xx else [False, True])

    def test_an_index_gone_is_created_again_and_its_items_sent_again(self, bed: Bed) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        ids = _line_ids(batch)
        bed.rule(refuse_first(lambda index, i: index_not_found(index), {ids[1]}))
        result = bed.writer().write(batch)
        assert (result.indexed, result.retried_items) == (2, 1)
        assert bed.ensurer.forgotten == [OTHER]
        assert bed.ensurer.ensured.count(OTHER) == 2
        assert set(bed.stored(OTHER)) == {ids[1]}

    def test_an_index_refused_makes_its_documents_dead_letters_and_not_the_others(
        self, bed: Bed
    ) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        bed.ensurer.refuse[OTHER] = IndexRejected(OTHER, "invalid_index_name_exception", "bad")
        result = bed.writer().write(batch)
        assert (result.indexed, result.deadlettered) == (1, {"invalid_index_name_exception": 1})
        (letter,) = bed.stored(DEADLETTER_INDEX).values()
        assert letter["deadletter"]["target_index"] == OTHER

    def test_an_index_not_ready_parks_its_documents(self, bed: Bed) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        bed.ensurer.refuse[OTHER] = IndexNotReady("shard budget")
        result = bed.writer(park_after=2).write(batch)
        assert (result.indexed, result.parked) == (1, {1: "index_not_ready"})
        assert bed.ensurer.ensured.count(OTHER) == 2 and len(bed.waits) == 1

    def test_parked_documents_are_written_once_their_index_takes_them(self, bed: Bed) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        ids = _line_ids(batch)
        bed.rule(refuse_first(lambda index, i: rejected_execution(bed.product), {ids[1]}, 2))
        writer = bed.writer(park_after=2)
        result = writer.write(batch)
        assert result.parked == {1: rejected_execution(bed.product)["create"]["error"]["type"]}
        released = _park(writer, batch, result, park_max_seconds=3600)
        assert released.result is not None and released.error is None
        assert (released.result.indexed, released.result.deadlettered) == (1, {})
        assert set(bed.stored(OTHER)) == {ids[1]}

    def test_parked_documents_past_their_time_are_dead_letters_retry_exhausted(
        self, bed: Bed
    ) -> None:
        batch = batch_of((APP, {"message": "a"}), (OTHER, {"message": "b"}))
        ids = _line_ids(batch)
        bed.rule(refuse_first(lambda index, i: rejected_execution(bed.product), {ids[1]}, 99))
        writer = bed.writer(park_after=2)
        result = writer.write(batch)
        released = _park(writer, batch, result, park_max_seconds=60)
        assert released.result is not None
        assert released.result.deadlettered == {"retry_exhausted": 1}
        (letter,) = bed.stored(DEADLETTER_INDEX).values()
        assert letter["error"]["type"] == "retry_exhausted"
        assert bed.stored(OTHER) == {}


def _park(writer: BulkWriter, batch: Batch, result: BulkResult, park_max_seconds: float) -> Any:
    """Park `result.parked` of `batch` and wait for the lot to release it (a leaping clock:
    every retry is due at once, and a minute passes between two reads)."""
    stop = threading.Event()
    retry = RetrySettings(initial_backoff_seconds=0.2, park_max_seconds=park_max_seconds)
    parking = Parking(writer, retry, stop, LeapingClock(step=61))
    try:
        held = parking.park(batch, result.parked)
        assert held == {("filebeat", 0): batch.messages[1].offset()}
        released = parking.released.get(timeout=10)
        assert parking.bytes == 0 and parking.failure() is None
        return released
    finally:
        stop.set()
