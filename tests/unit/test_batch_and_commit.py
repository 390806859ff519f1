from __future__ import annotations

import random
from dataclasses import dataclass

from indexer.batch import Batch, Batcher, BatchPolicy
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


def test_a_batch_of_a_lost_assignment_never_moves_the_next_assignment_of_its_partition() -> None:
    # Offsets 100-150 of t[0] sit in a batch when the partition is lost; it is assigned again
    # and the new assignment re-reads from the last commit (60). If the old batch finished first
    # and moved t[0] to 151, a crash would skip 60-99, which nobody has written yet.
    batcher = Batcher(BatchPolicy(1000, 10**6, 60), FakeClock())
    tracker = OffsetTracker()
    batcher.start_generation(tracker.assign([("t", 0), ("t", 1)]))
    old = _batch(batcher, *((0, offset) for offset in range(100, 151)), (1, 9))
    tracker.register(old)
    tracker.forget([("t", 0)])  # lost
    assert batcher.start_generation(tracker.assign([("t", 0)])) is None
    new = _batch(batcher, *((0, offset) for offset in range(60, 100)))
    tracker.register(new)
    assert tracker.finish(old) == {("t", 1): 10}  # its other partition still moves
    assert tracker.finish(new) == {("t", 0): 100}


def test_a_batch_still_open_when_its_partition_is_assigned_again_moves_nothing_there() -> None:
    # The open batch is sealed only later (by age, say), after t[0] was lost and assigned again.
    batcher = Batcher(BatchPolicy(1000, 10**6, 60), FakeClock())
    tracker = OffsetTracker()
    batcher.start_generation(tracker.assign([("t", 0), ("t", 1)]))
    for offset in range(100, 151):
        batcher.add(Msg("t", 0, offset), ("t", 0), offset, "i", b"x")
    batcher.add(Msg("t", 1, 9), ("t", 1), 9, "i", b"x")
    tracker.forget([("t", 0)])
    generation = tracker.assign([("t", 0)])
    old = batcher.start_generation(generation)  # a new generation seals the open batch
    assert old is not None and old.generation < generation
    tracker.register(old)
    new = _batch(batcher, (0, 60))
    assert new is not None and new.generation == generation
    tracker.register(new)
    assert tracker.unfinished([("t", 0)]) == 1  # only the new assignment's batch counts
    assert tracker.finish(old) == {("t", 1): 10}
    assert tracker.finish(new) == {("t", 0): 61}


def test_messages_of_a_partition_no_longer_assigned_are_not_tracked() -> None:
    batcher = Batcher(BatchPolicy(1000, 10**6, 60), FakeClock())
    tracker = OffsetTracker()
    batcher.start_generation(tracker.assign([("t", 0)]))
    tracker.forget([("t", 0)])  # revoked or lost while its messages were still being taken
    batch = _batch(batcher, (0, 5))
    tracker.register(batch)
    assert tracker.unfinished() == 0
    assert tracker.finish(batch) == {}


def test_a_new_assignment_gets_a_new_generation_and_seals_the_open_batch() -> None:
    batcher = Batcher(BatchPolicy(1000, 10**6, 60), FakeClock())
    tracker = OffsetTracker()
    first = tracker.assign([("t", 0)])
    batcher.start_generation(first)
    batcher.add(Msg("t", 0, 0), ("t", 0), 0, "i", b"x")
    second = tracker.assign([("t", 1)])  # cooperative: an incremental assignment
    sealed = batcher.start_generation(second)
    assert second > first
    assert sealed is not None and sealed.generation == first and len(sealed) == 1
    tracker.register(sealed)  # t[0] was assigned throughout: its offsets count
    assert tracker.finish(sealed) == {("t", 0): 1}


def test_a_held_batch_commits_its_partition_only_below_its_lowest_parked_offset() -> None:
    batcher = Batcher(BatchPolicy(100, 10_000, 60), FakeClock())
    tracker = OffsetTracker()
    held = _batch(batcher, (0, 0), (0, 1), (0, 2), (1, 0))
    after = _batch(batcher, (0, 3), (1, 1))
    tracker.register(held)
    tracker.register(after)
    # offset 1 of t[0] is parked: 0 commits, t[1] is not held back at all
    assert tracker.finish(held, held={("t", 0): 1}) == {("t", 0): 1, ("t", 1): 1}
    assert tracker.finish(after) == {("t", 1): 2}  # t[0] waits behind the parked message
    assert tracker.unfinished() == 0  # a held batch is finished: drains do not wait for it
    assert tracker.release(held) == {("t", 0): 4}


def test_a_held_batch_behind_an_unfinished_one_moves_nothing_until_both_allow() -> None:
    batcher = Batcher(BatchPolicy(100, 10_000, 60), FakeClock())
    tracker = OffsetTracker()
    first = _batch(batcher, (0, 0), (0, 1))
    held = _batch(batcher, (0, 2), (0, 3))
    tracker.register(first)
    tracker.register(held)
    assert tracker.finish(held, held={("t", 0): 3}) == {}
    assert tracker.finish(first) == {("t", 0): 3}
    assert tracker.release(held) == {("t", 0): 4}


def test_releasing_a_batch_that_was_never_held_or_was_forgotten_moves_nothing() -> None:
    batcher = Batcher(BatchPolicy(100, 10_000, 60), FakeClock())
    tracker = OffsetTracker()
    batch = _batch(batcher, (0, 0), (1, 5))
    tracker.register(batch)
    assert tracker.finish(batch, held={("t", 0): 0}) == {("t", 0): 0, ("t", 1): 6}
    tracker.forget([("t", 0)])
    assert tracker.release(batch) == {}


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


def _contents(batch):  # type: ignore[no-untyped-def]
    return (
        batch.lines,
        batch.messages,
        batch.indices,
        batch.high,
        batch.deadletters,
        batch.size,
        batch.created,
    )


def test_a_read_taken_at_once_makes_the_batches_that_documents_added_one_by_one_make() -> None:
    # extend() (the poll loop's, per read) against add() (per document): the same batches with
    # the same lines, messages, index counts, offsets, dead letters and sizes, whatever the
    # reads' lengths, the documents' sizes (some larger than a batch may hold) and dead letters.
    rng = random.Random(16)
    for policy in (BatchPolicy(7, 10_000, 60), BatchPolicy(50, 600, 60), BatchPolicy(3, 64, 60)):
        clock = FakeClock()
        one, many = Batcher(policy, clock), Batcher(policy, clock)
        by_one: list[Batch] = []
        by_read: list[Batch] = []
        offsets = [0, 0, 0]
        for _ in range(200):
            clock.now += 1
            read = []
            for _ in range(rng.randint(1, 12)):
                partition = rng.randrange(3)
                read.append(Msg("t", partition, offsets[partition]))
                offsets[partition] += 1
            indices = [rng.choice("abc") for _ in read]
            lines = [b"x" * rng.choice((1, 10, 40, 200, 700)) for _ in read]
            deadletters = {i: "invalid_json" for i in range(len(read)) if rng.random() < 0.1}
            for i, m in enumerate(read):
                sealed = one.add(m, (m.t, m.p), m.o, indices[i], lines[i], deadletters.get(i))
                by_one += [sealed] if sealed is not None else []
            high = {(m.t, m.p): m.o for m in read}
            by_read += many.extend(read, indices, lines, high, deadletters)
        by_one += [b for b in (one.flush(),) if b is not None]
        by_read += [b for b in (many.flush(),) if b is not None]
        assert [_contents(b) for b in by_read] == [_contents(b) for b in by_one]
        assert all(len(b) <= policy.max_docs for b in by_read)


def test_a_read_that_fills_a_batch_seals_it_at_once() -> None:
    batcher = Batcher(BatchPolicy(max_docs=3, max_bytes=10_000, max_age=60), FakeClock())
    read = [Msg("t", 0, offset) for offset in range(4)]
    sealed = batcher.extend(read[:3], ["i"] * 3, [b"x"] * 3, {("t", 0): 2}, {})
    assert [len(b) for b in sealed] == [3] and sealed[0].high == {("t", 0): 2}
    assert batcher.extend(read[3:], ["i"], [b"x"], {("t", 0): 3}, {}) == []
    rest = batcher.flush()
    assert rest is not None and rest.high == {("t", 0): 3}
