from __future__ import annotations

from dataclasses import dataclass

from indexer.batch import Batcher, BatchPolicy
from indexer.commit import OffsetTracker
from indexer.outcome import Outcome, classify


@dataclass
class FakeClock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Msg:
    """Stands in for a confluent_kafka.Message in pure-logic tests: only coordinates matter."""

    t: str
    p: int
    o: int

    def topic(self) -> str:
        return self.t

    def partition(self) -> int:
        return self.p

    def offset(self) -> int:
        return self.o


def test_a_batch_is_sealed_at_its_document_limit() -> None:
    batcher = Batcher(BatchPolicy(max_docs=3, max_bytes=10_000, max_age=60), FakeClock())
    for offset in range(3):
        assert batcher.add(Msg("t", 0, offset), ("t", 0), offset, "i", b"x" * 10) is None
    sealed = batcher.due()
    assert sealed is not None and len(sealed) == 3


def test_a_batch_is_sealed_before_it_would_exceed_its_byte_limit() -> None:
    batcher = Batcher(BatchPolicy(max_docs=100, max_bytes=2048, max_age=60), FakeClock())
    assert batcher.add(Msg("t", 0, 0), ("t", 0), 0, "i", b"x" * 1500) is None
    sealed = batcher.add(Msg("t", 0, 1), ("t", 0), 1, "i", b"x" * 1000)
    assert sealed is not None and len(sealed) == 1


def test_a_document_larger_than_the_byte_limit_travels_alone() -> None:
    batcher = Batcher(BatchPolicy(max_docs=100, max_bytes=1024, max_age=60), FakeClock())
    batcher.add(Msg("t", 0, 0), ("t", 0), 0, "i", b"x" * 10)
    first = batcher.add(Msg("t", 0, 1), ("t", 0), 1, "i", b"x" * 5000)
    assert first is not None and len(first) == 1
    alone = batcher.due()
    assert alone is not None and alone.size == 5000


def test_a_batch_is_sealed_when_it_is_old_enough() -> None:
    clock = FakeClock()
    batcher = Batcher(BatchPolicy(max_docs=100, max_bytes=10_000, max_age=1.0), clock)
    batcher.add(Msg("t", 0, 0), ("t", 0), 0, "i", b"x")
    clock.now = 0.9
    assert batcher.due() is None
    clock.now = 1.0
    assert batcher.due() is not None


def _batch(batcher: Batcher, *coords: tuple[int, int]):  # type: ignore[no-untyped-def]
    for partition, offset in coords:
        batcher.add(Msg("t", partition, offset), ("t", partition), offset, "i", b"x")
    return batcher.flush()


def test_offsets_advance_only_over_a_prefix_of_finished_batches() -> None:
    batcher = Batcher(BatchPolicy(100, 10_000, 60), FakeClock())
    tracker = OffsetTracker()
    first = _batch(batcher, (0, 0), (0, 1), (1, 0))
    second = _batch(batcher, (0, 2), (1, 1))
    tracker.register(first)
    tracker.register(second)
    assert tracker.finish(second) == {}  # the first is still in flight
    assert tracker.finish(first) == {("t", 0): 3, ("t", 1): 2}
    assert tracker.unfinished() == 0


def test_a_forgotten_partition_never_moves_again() -> None:
    batcher = Batcher(BatchPolicy(100, 10_000, 60), FakeClock())
    tracker = OffsetTracker()
    batch = _batch(batcher, (0, 5), (1, 7))
    tracker.register(batch)
    tracker.forget([("t", 0)])
    assert tracker.finish(batch) == {("t", 1): 8}


def test_the_outcome_table() -> None:
    assert classify(201) is Outcome.INDEXED
    assert classify(200) is Outcome.INDEXED
    assert classify(409, "version_conflict_engine_exception") is Outcome.DUPLICATE
    assert classify(429, "es_rejected_execution_exception") is Outcome.RETRY
    assert classify(503, "unavailable_shards_exception") is Outcome.RETRY
    assert classify(500) is Outcome.RETRY
    assert classify(404, "index_not_found_exception") is Outcome.RETRY
    assert classify(400, "mapper_parsing_exception") is Outcome.REJECTED
    assert classify(400, "document_parsing_exception") is Outcome.REJECTED
    # blocks lift (REAL-CLUSTERS.md §5): write blocks and the create-index block are retried
    assert classify(403, "cluster_block_exception") is Outcome.RETRY
    assert classify(403, "index_create_block_exception") is Outcome.RETRY
    assert classify(403, "security_exception") is Outcome.REJECTED
    assert classify(404, "something_else") is Outcome.REJECTED
