"""`indexer replay`: read a Kafka time window again into the same daily indices.

A consumer of its own reads the window with `assign()`: it never joins a group and never
commits, so the indexer's group (and its offsets) cannot notice. Each message goes through
decode, route and encode as in the pipeline and `BulkWriter` writes it: documents already in
Elasticsearch answer 409 (duplicates), missing ones are indexed again, undecodable messages meet
their dead letters. Nothing is stored twice.

Where each partition starts and stops:
- start: `offsets_for_times(--since)`. Brokers may answer at batch granularity (Tansu answers
  the first offset of the batch holding the time), so messages stamped before `--since` are
  skipped, and counted.
- stop: at the first message stamped at or after `--until`; or at the end of the partition,
  which is the exact high watermark of the first fetch response (`get_watermark_offsets(...,
  cached=True)`; an uncached ListOffsets answer may also be batch-granular) or the
  partition-EOF event, whichever comes first. A partition that yields nothing for
  `IDLE_SECONDS` and whose position has reached the cached high watermark is finished too; one
  that stays silent for `GIVE_UP_SECONDS` is reported as incomplete.

The window is by Kafka timestamp. With producer (CreateTime) timestamps that run backwards a
message stamped inside the window after one stamped past `--until` is not read: that is the
trade for a replay that stops on its own on a live topic.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from indexer.batch import Batch, Batcher, BatchPolicy
from indexer.bulk import BulkWriter, message_seconds
from indexer.replay.progress import Progress
from indexer.replay.scope import Scope
from indexer.replay.transform import transform
from indexer.replay.writing import Tally
from indexer.route import Router
from indexer.settings import KafkaSettings, Settings

log = structlog.get_logger(__name__)

IDLE_SECONDS = 3.0
GIVE_UP_SECONDS = 30.0
METADATA_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.5

# The replay consumer's own settings: no group membership, no commits, end-of-partition events.
FIXED: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": True,
    "auto.offset.reset": "earliest",
}
DEFAULTS: dict[str, Any] = {
    "fetch.queue.backoff.ms": 10,
    "queued.max.messages.kbytes": 32768,
}
_GROUP_ONLY = ("group.instance.id", "partition.assignment.strategy", "group.protocol")


class ReplayError(Exception):
    """The replay cannot start (unknown topic, offset lookup failed)."""


def replay_consumer_config(settings: KafkaSettings, now: float) -> dict[str, Any]:
    """The indexer's connection settings with a throw-away group id that nothing commits to."""
    from indexer.kafka_log import KafkaLogBridge

    config: dict[str, Any] = {
        **DEFAULTS,
        "bootstrap.servers": settings.bootstrap_servers,
        **settings.options,
        "group.id": f"{settings.group_id}-replay-{int(now)}",
        **FIXED,
        # librdkafka's own lines as our structured, throttled log events, not raw stderr text.
        **KafkaLogBridge("replay").config(),
    }
    for key in _GROUP_ONLY:
        config.pop(key, None)
    return config


def resolve_topics(
    consumer: Consumer, settings: KafkaSettings, requested: list[str]
) -> dict[str, list[int]]:
    """Topic → partition ids: `--topic`s, else the configured topics, else those the configured
    pattern matches (as librdkafka matches a subscription pattern)."""
    metadata = consumer.list_topics(timeout=METADATA_TIMEOUT_SECONDS)
    available = {
        name: sorted(topic.partitions)
        for name, topic in metadata.topics.items()
        if topic.error is None
    }
    wanted = requested or list(settings.topics or [])
    if wanted:
        missing = [name for name in wanted if name not in available]
        if missing:
            raise ReplayError(f"no such topic(s): {', '.join(missing)}")
        return {name: available[name] for name in dict.fromkeys(wanted)}
    pattern = re.compile(settings.subscription[0])
    return {
        name: partitions
        for name, partitions in sorted(available.items())
        if pattern.search(name) and not name.startswith("__")
    }


@dataclass
class _Partition:
    topic: str
    partition: int
    start: int
    end: int | None = None
    """Exact high watermark seen in the first fetch response."""
    taken: int | None = None
    """Offset after the last message read."""
    stop: str | None = None

    @property
    def name(self) -> str:
        return f"{self.topic}[{self.partition}]"

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.taken, "stop": self.stop}


@dataclass
class WindowSummary:
    dry_run: bool
    since: float
    until: float
    topics: list[str] = field(default_factory=list)
    read: int = 0
    before_since: int = 0
    """Read because offsets are looked up at batch granularity, but stamped before --since."""
    no_timestamp: int = 0
    filtered_out: int = 0
    selected: int = 0
    """In the window and in scope: written (or, in a dry run, would be)."""
    by_index: dict[str, int] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)
    partitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    incomplete: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failed(self) -> bool:
        """Incomplete, interrupted, or a document left without an outcome (parked by the
        writer: its index kept answering 429/5xx, or could not be had for now)."""
        return bool(self.incomplete) or self.interrupted or self.tally.not_written_total > 0

    def as_dict(self) -> dict[str, Any]:
        from indexer.replay.scope import format_instant

        return {
            "command": "replay",
            "dry_run": self.dry_run,
            "since": format_instant(self.since),
            "until": format_instant(self.until),
            "topics": self.topics,
            "read": self.read,
            "before_since": self.before_since,
            "no_timestamp": self.no_timestamp,
            "filtered_out": self.filtered_out,
            "selected": self.selected,
            **self.tally.as_dict(),
            "by_index": dict(sorted(self.by_index.items())),
            "partitions": self.partitions,
            "incomplete": self.incomplete,
            "interrupted": self.interrupted,
        }


class WindowReplay:
    """One replay of [since, until). `stop` interrupts it (nothing is committed either way)."""

    def __init__(
        self,
        settings: Settings,
        writer: BulkWriter,
        scope: Scope,
        stop: threading.Event,
        topics: list[str] | None = None,
        dry_run: bool = False,
        consumer_factory: Callable[[dict[str, Any]], Consumer] = Consumer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if scope.since is None or scope.until is None:
            raise ReplayError("a replay needs both --since and --until")
        self._since_ms = int(scope.since * 1000)
        self._until_ms = int(scope.until * 1000)
        self._settings = settings
        self._writer = writer
        self._scope = scope
        self._stop = stop
        self._requested = list(topics or [])
        self._consumer_factory = consumer_factory
        self._clock = clock
        self._prefix = settings.routing.index_prefix
        self._router = Router(settings.routing, settings.parsing)
        self._batcher = Batcher(BatchPolicy.from_settings(settings.batch), clock)
        self._partitions: dict[tuple[str, int], _Partition] = {}
        self.summary = WindowSummary(dry_run, scope.since, scope.until)
        self._progress = Progress("messages")

    def run(self) -> WindowSummary:
        """Read the window and write it. Raises ReplayError when it cannot start, and
        `bulk.DeadLetterRejected` when the dead-letter index refuses a document."""
        from indexer.retry import Abandoned

        consumer = self._consumer_factory(replay_consumer_config(self._settings.kafka, time.time()))
        try:
            self._start(consumer)
            self._read(consumer)
            sealed = self._batcher.flush()
            if sealed is not None and not self._stop.is_set():
                self._write(sealed)
        except Abandoned:
            pass
        finally:
            consumer.close()
            self._progress.update(self.summary.read, self._total(), self._positions(), force=True)
            self._progress.done()
        self.summary.interrupted = self._stop.is_set()
        self.summary.partitions = {p.name: p.as_dict() for p in self._partitions.values()}
        self.summary.incomplete = [p.name for p in self._partitions.values() if p.stop is None]
        return self.summary

    # Start ----------------------------------------------------------------------------------

    def _start(self, consumer: Consumer) -> None:
        topics = resolve_topics(consumer, self._settings.kafka, self._requested)
        self.summary.topics = list(topics)
        lookups = [TopicPartition(t, p, self._since_ms) for t, ps in topics.items() for p in ps]
        if not lookups:
            return
        try:
            found = consumer.offsets_for_times(lookups, timeout=METADATA_TIMEOUT_SECONDS)
        except KafkaException as exc:
            raise ReplayError(f"looking up offsets by time failed: {exc}") from exc
        assign = []
        for tp in found:
            if tp.error is not None:
                raise ReplayError(f"looking up {tp.topic}[{tp.partition}] failed: {tp.error}")
            state = _Partition(tp.topic, tp.partition, tp.offset)
            self._partitions[(tp.topic, tp.partition)] = state
            if tp.offset < 0:  # no message stamped at or after --since
                state.stop = "empty"
                continue
            assign.append(TopicPartition(tp.topic, tp.partition, tp.offset))
        log.info(
            "replay_assigned", partitions={f"{t.topic}[{t.partition}]": t.offset for t in assign}
        )
        if assign:
            consumer.assign(assign)

    # Read -----------------------------------------------------------------------------------

    def _pending(self) -> list[_Partition]:
        return [p for p in self._partitions.values() if p.stop is None]

    def _read(self, consumer: Consumer) -> None:
        kafka = self._settings.kafka
        last_progress = self._clock()
        while self._pending() and not self._stop.is_set():
            messages = consumer.consume(kafka.consume_batch, POLL_SECONDS)
            if messages:
                last_progress = self._clock()
            for message in messages:
                self._take(consumer, message)
            self._progress.update(self.summary.read, self._total(), self._positions())
            sealed = self._batcher.due()
            if sealed is not None:
                self._write(sealed)
            idle = self._clock() - last_progress
            if idle >= IDLE_SECONDS:
                self._finish_caught_up(consumer)
            if idle >= GIVE_UP_SECONDS:
                log.warning("replay_gave_up", partitions=[p.name for p in self._pending()])
                return

    def _total(self) -> int | None:
        """Messages in the window's partitions from where each starts to its end, once every
        partition's end is known (a partition that stopped early counts what it read)."""
        total = 0
        for state in self._partitions.values():
            if state.stop is not None:
                total += (state.taken or state.start) - state.start if state.start >= 0 else 0
            elif state.end is None:
                return None
            else:
                total += state.end - state.start
        return total

    def _positions(self) -> dict[str, tuple[int | None, int | None]]:
        return {p.name: (p.taken, p.end) for p in self._partitions.values()}

    def _take(self, consumer: Consumer, message: Any) -> None:
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                self._finish(
                    consumer, self._partitions[(message.topic(), message.partition())], "end"
                )
            elif error.fatal():
                raise KafkaException(error)
            else:
                log.warning("kafka_error", error=str(error))
            return
        state = self._partitions[(message.topic(), message.partition())]
        if state.stop is not None:
            return  # fetched before the partition was paused
        if state.end is None:
            high = consumer.get_watermark_offsets(
                TopicPartition(state.topic, state.partition), cached=True
            )[1]
            state.end = high if high >= 0 else None
        offset = message.offset()
        kind, millis = message.timestamp()
        if kind and millis >= self._until_ms:
            self._finish(consumer, state, "until")
            return
        state.taken = offset + 1
        self.summary.read += 1
        if not kind or millis < 0:
            self.summary.no_timestamp += 1
        elif millis < self._since_ms:
            self.summary.before_since += 1
        else:
            self._select(message, message_seconds(message))  # as the pipeline routes it
        if state.end is not None and offset + 1 >= state.end:
            self._finish(consumer, state, "end")

    def _select(self, message: Any, seconds: float) -> None:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        routed = transform(
            self._router, self._prefix, message.value(), topic, partition, offset, seconds
        )
        if not self._scope.selects_identity(routed.identity):
            self.summary.filtered_out += 1
            return
        self.summary.selected += 1
        self.summary.by_index[routed.index] = self.summary.by_index.get(routed.index, 0) + 1
        if self.summary.dry_run:
            return
        sealed = self._batcher.add(
            message,
            (message.topic(), message.partition()),
            message.offset(),
            routed.index,
            routed.line,
            routed.undecodable,
        )
        if sealed is not None:
            self._write(sealed)

    def _finish(self, consumer: Consumer, state: _Partition, reason: str) -> None:
        if state.stop is not None:
            return
        state.stop = reason
        consumer.pause([TopicPartition(state.topic, state.partition)])
        log.info("replay_partition_done", partition=state.name, stop=reason, to=state.taken)

    def _finish_caught_up(self, consumer: Consumer) -> None:
        """Fallback for a broker that sends no EOF: finish partitions at their high watermark."""
        for state in self._pending():
            tp = TopicPartition(state.topic, state.partition)
            position = consumer.position([tp])[0].offset
            high = consumer.get_watermark_offsets(tp, cached=True)[1]
            if high >= 0 and position >= high:
                self._finish(consumer, state, "end")

    def _write(self, batch: Batch) -> None:
        self.summary.tally.add(self._writer.write(batch))
