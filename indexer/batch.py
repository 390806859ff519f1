"""Batch: documents gathered for one bulk request, with the messages that make them committable.

A batch is sealed when it reaches its document count, its byte size, or its age. Each entry keeps
its Kafka message, so the offsets a batch makes committable travel with it and are never
recomputed elsewhere. A batch belongs to one assignment generation (`indexer.commit`): the
pipeline seals the open batch whenever the assignment changes, so no batch spans two.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from indexer.settings import BatchSettings

_sequence = itertools.count()

Clock = Callable[[], float]


@dataclass(eq=False)
class Batch:
    """NDJSON lines and the Kafka messages they came from, index-aligned.

    `lines[i]` is the action and document of `messages[i]` (a confluent_kafka.Message).
    """

    created: float
    generation: int = 0
    """The assignment generation the batch was opened in (`OffsetTracker.assign`)."""
    seq: int = field(default_factory=lambda: next(_sequence))
    lines: list[bytes] = field(default_factory=list)
    messages: list[Any] = field(default_factory=list)
    indices: dict[str, int] = field(default_factory=dict)
    """Documents per index."""
    newest_event: float | None = None
    """`@timestamp` (epoch seconds) of about the newest event, for the latency metric."""
    size: int = 0
    high: dict[tuple[str, int], int] = field(default_factory=dict)
    """The highest offset per (topic, partition), kept as documents are added (Kafka hands a
    partition's messages over in offset order)."""
    deadletters: dict[int, str] = field(default_factory=dict)
    """Positions whose line already is a dead letter (undecodable messages), with the reason."""
    unprepared: set[int] = field(default_factory=set)
    """Positions parked before their index could be prepared (bulk/targets.py): prepared first when
    their retry comes."""

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True)
class BatchPolicy:
    max_docs: int
    max_bytes: int
    max_age: float

    @classmethod
    def from_settings(cls, settings: BatchSettings) -> BatchPolicy:
        return cls(settings.max_docs, settings.max_bytes, settings.max_age_seconds)


class Batcher:
    """Fills one open batch at a time. Not thread-safe: the poll loop alone uses it."""

    def __init__(self, policy: BatchPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._open: Batch | None = None
        self._generation = 0

    def start_generation(self, generation: int) -> Batch | None:
        """Stamp batches opened from now on with `generation`; seal and return the open batch,
        which belongs to the previous one."""
        self._generation = generation
        return self.flush()

    def add(
        self,
        message: Any,
        partition: tuple[str, int],
        offset: int,
        index: str,
        line: bytes,
        deadletter: str | None = None,
    ) -> Batch | None:
        """Add one document (`partition` is the message's (topic, partition)); return the open
        batch if it had to be sealed to make room.

        A document bigger than `max_bytes` travels alone rather than being refused.
        """
        batch = self._open
        sealed = None
        if batch is not None and self._full(batch, len(line)):
            sealed, batch = batch, None
        if batch is None:
            batch = self._open = Batch(created=self._clock(), generation=self._generation)
        if deadletter is not None:
            batch.deadletters[len(batch.lines)] = deadletter
        batch.lines.append(line)
        batch.messages.append(message)
        batch.indices[index] = batch.indices.get(index, 0) + 1
        batch.high[partition] = offset
        batch.size += len(line)
        return sealed

    def extend(
        self,
        messages: list[Any],
        indices: list[str],
        lines: list[bytes],
        high: dict[tuple[str, int], int],
        deadletters: dict[int, str],
    ) -> list[Batch]:
        """`add` for the documents of one read at once: `lines[i]` is the document of
        `messages[i]` for index `indices[i]`, `high` the read's highest offset per (topic,
        partition), `deadletters` the positions in the read whose line is a dead letter. Returns
        the batches sealed, oldest first (a batch that is full is sealed at once).

        The bookkeeping is per read, not per document (list extends, one count of the indices).
        A read that would take a batch past `max_bytes` goes document by document (`add`).
        """
        sealed: list[Batch] = []
        max_docs, max_bytes = self._policy.max_docs, self._policy.max_bytes
        count = len(lines)
        start = 0
        while start < count:
            batch = self._open
            if batch is None or self._full(batch, 0):
                if batch is not None:
                    sealed.append(batch)
                batch = self._open = Batch(created=self._clock(), generation=self._generation)
            end = min(count, start + max_docs - len(batch.lines))
            whole = start == 0 and end == count
            piece = lines if whole else lines[start:end]
            size = sum(map(len, piece))
            if batch.size + size > max_bytes:
                if not batch.lines:
                    self._open = None  # `add` opens its own, and never seals it empty
                sealed.extend(self._add_each(messages, indices, lines, deadletters, start, end))
                start = end
                continue
            base = len(batch.lines) - start
            for position, reason in deadletters.items():
                if start <= position < end:
                    batch.deadletters[base + position] = reason
            batch.lines += piece
            batch.messages += messages if whole else messages[start:end]
            counts = batch.indices
            for index, documents in Counter(indices if whole else indices[start:end]).items():
                counts[index] = counts.get(index, 0) + documents
            batch.high.update(high if whole else _highest(messages[start:end]))
            batch.size += size
            start = end
        batch = self._open
        if batch is not None and self._full(batch, 0):
            sealed.append(batch)
            self._open = None
        return sealed

    def _add_each(
        self,
        messages: list[Any],
        indices: list[str],
        lines: list[bytes],
        deadletters: dict[int, str],
        start: int,
        end: int,
    ) -> list[Batch]:
        sealed = []
        for position in range(start, end):
            message = messages[position]
            batch = self.add(
                message,
                (message.topic(), message.partition()),
                message.offset(),
                indices[position],
                lines[position],
                deadletters.get(position),
            )
            if batch is not None:
                sealed.append(batch)
        return sealed

    def due(self) -> Batch | None:
        """Seal and return the open batch if it is full or older than the age limit."""
        batch = self._open
        if batch is not None and (
            self._full(batch, 0) or self._clock() - batch.created >= self._policy.max_age
        ):
            self._open = None
            return batch
        return None

    def _full(self, batch: Batch, incoming: int) -> bool:
        return (
            len(batch.lines) >= self._policy.max_docs
            or batch.size + incoming > self._policy.max_bytes
            or batch.size >= self._policy.max_bytes
        )

    def flush(self) -> Batch | None:
        """Seal and return the open batch, whatever its size."""
        batch, self._open = self._open, None
        return batch


def _highest(messages: list[Any]) -> dict[tuple[str, int], int]:
    """The highest offset per (topic, partition) of messages in offset order."""
    return {(m.topic(), m.partition()): m.offset() for m in messages}
