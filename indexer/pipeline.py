"""The pipeline: the one place that knows the order of the stages.

    consume → decode → route → encode → batch → (writer threads) bulk → commit

The poll loop (one thread) consumes, transforms and batches; sealed batches queue for a small
pool of writer threads; finished batches come back to the poll loop, which alone stores offsets.
When the documents awaiting acknowledgement fill the memory budget, the loop stops reading; if
that lasts, it pauses its partitions and keeps polling, so the group never sees a stalled member.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from indexer import metrics
from indexer.batch import Batch, Batcher, BatchPolicy
from indexer.bulk import BulkResult, BulkWriter
from indexer.commit import OffsetTracker
from indexer.consume import forget_lag
from indexer.core import NativeTake
from indexer.dead_letter_breaker import DeadLetterBreaker
from indexer.encode import ingested_field
from indexer.health import Health
from indexer.kafka_time import CLOCK_SET_MILLIS, KAFKA_MILLIS_MAX, clockless, message_seconds
from indexer.parking import Parking
from indexer.route import Router
from indexer.settings import Settings
from indexer.transform import transform
from indexer.writers import Finished, Writers

log = structlog.get_logger(__name__)

CommitOutcome = Literal["ok", "nothing new", "failed"]
"""What a synchronous commit did, as the `partitions_revoked` and `stopped` lines say it."""
RESUME_FRACTION = 0.5  # hysteresis: resume only once buffered bytes fall below half the budget
PAUSE_AFTER_SECONDS = 5.0


class PipelineFailed(Exception):
    """The pipeline stopped on an error retrying cannot fix; offsets past it were not committed."""


class DeadLetterStorm(Exception):
    """The dead-letter circuit breaker tripped."""


class Pipeline:
    """Runs until `stop()` is called (from a signal handler, say) or a fatal error.

    `run()` returns after a drain: every batch finished within the drain timeout has its offsets
    committed; anything else is left uncommitted and will be consumed again (its documents carry
    the same ids, so Elasticsearch keeps one copy).
    """

    def __init__(
        self,
        settings: Settings,
        consumer: Consumer,
        writer: BulkWriter,
        router: Router,
        health: Health,
        writer_stop: threading.Event,
        clock: Callable[[], float] = time.monotonic,
        native: NativeTake | None = None,
    ) -> None:
        self._settings = settings
        self._native = native
        self._consumer = consumer
        self._router = router
        self._health = health
        self._writer_stop = writer_stop
        self._clock = clock
        self._batcher = Batcher(BatchPolicy.from_settings(settings.batch), clock)
        self._tracker = OffsetTracker()
        self._owned: set[tuple[str, int]] = set()
        """The partitions this member holds, from the rebalance callbacks themselves: inside them
        `consumer.assignment()` is still the assignment before the change (the client applies
        an incremental assign or unassign after the callback returns)."""
        self._writers = Writers(settings.batch.max_in_flight, writer.write)
        self._parking = Parking(writer, settings.retry, writer_stop, clock)
        health.worker_failure = self._parking.failure
        self._sealed: deque[Batch] = deque()
        self._in_flight = 0
        self._buffered = 0
        self._paused_since: float | None = None
        self._over_since: float | None = None
        self._stopping = threading.Event()
        self._stop_deadline: float | None = None
        self._shutdown_drained: bool | None = None
        """Set once the shutdown drain ran (its outcome): the revokes of closing then only commit."""
        self._failure: BaseException | None = None
        self._namespaces = metrics.NamespaceCounter(settings.routing.index_prefix)
        self._breaker = DeadLetterBreaker(
            settings.deadletter.breaker_share, settings.deadletter.breaker_window
        )

    def stop(self) -> None:
        """Ask the loop to drain and return. Safe from signal handlers and other threads.

        The drain ends at most `shutdown.drain_timeout_seconds` after the first call, whatever
        it waits for (a revoke in progress, the final drain, the revokes of closing).
        """
        if self._stop_deadline is None:
            self._stop_deadline = self._clock() + self._settings.shutdown.drain_timeout_seconds
        self._stopping.set()

    def run(self) -> None:
        """Consume until stopped. Raises PipelineFailed after a fatal error (once drained)."""
        kafka = self._settings.kafka
        self._consumer.subscribe(
            kafka.subscription,
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        log.info("consuming", subscription=kafka.subscription, group=kafka.group_id)
        try:
            while not self._stopping.is_set():
                self._turn()
        finally:
            self._shutdown()
        if self._failure is not None:
            raise PipelineFailed(str(self._failure)) from self._failure

    # The loop ------------------------------------------------------------------------------

    def _turn(self) -> None:
        self._health.beat()
        self._collect(block=False)
        self._release_parked()
        self._dispatch()
        kafka = self._settings.kafka
        timeout = kafka.poll_timeout_seconds
        if self._hold_back():
            # Over the memory budget: let a writer finish before reading more.
            self._collect(block=True, timeout=timeout)
            self._dispatch()
            if self._paused_since is None:
                self._seal_due(caught_up=False)
                return
            # Paused: poll without waiting, to serve rebalances and max.poll.interval.ms.
            timeout = 0
        messages = self._read(kafka.consume_batch, timeout)
        if messages:
            self._take(messages)
        self._seal_due(caught_up=len(messages) < kafka.consume_batch)

    def _read(self, most: int, timeout: float) -> list[Any]:
        """What librdkafka holds now, up to `most` messages; when it holds none, wait up to
        `timeout` for the first and take what came with it. `consume(most, timeout)` alone
        waits until `most` messages or the timeout, so at a low rate every line would wait the
        whole timeout (Java's `poll` returns as soon as records are there; so does this)."""
        consumer = self._consumer
        messages = consumer.consume(most, 0)
        if messages or not timeout:
            return messages
        first = consumer.poll(timeout)
        if first is None:
            return []
        return [first, *consumer.consume(most - 1, 0)] if most > 1 else [first]

    def _seal_due(self, caught_up: bool) -> None:
        """Seal the open batch when it is full or old, or at once when every writer is idle and
        the last read took all librdkafka had (`caught_up`): then waiting gains nothing (like
        Nagle's rule), so at a low rate a document goes out within one poll. While a bulk is in
        flight, or while a backlog drains (reads come back full), batches keep filling, so at a
        high rate they stay large."""
        self._collect(block=False)  # a bulk that ended during the poll frees its writer
        idle = caught_up and self._in_flight == 0 and not self._sealed
        sealed = self._batcher.flush() if idle else self._batcher.due()
        if sealed is not None:
            self._seal(sealed)
        self._dispatch()

    def _take(self, messages: list[Any]) -> None:
        """Transform each message of a read into the open batch. The hot path: per message only
        the transform and three appends; the batch's bookkeeping is done once per read
        (`Batcher.extend`)."""
        ingested = ingested_field()  # one `event.ingested` for the whole batch (encode.py)
        if self._native is not None:  # indexer/core.py: the same lines, from the native core
            read = self._native.take(messages, ingested, self._on_message_error)
            for batch in self._batcher.extend(*read):
                self._seal(batch)
            metrics.EVENTS_CONSUMED.inc(len(read[2]))
            self._sync_router_counters()
            return
        router = self._router
        indices: list[str] = []
        lines: list[bytes] = []
        high: dict[tuple[str, int], int] = {}
        deadletters: dict[int, str] = {}
        add_index, add_line = indices.append, lines.append
        errors = False
        for message in messages:
            if message.error() is not None:
                self._on_message_error(message.error())
                errors = True
                continue
            topic = message.topic()
            partition = message.partition()
            offset = message.offset()
            kind, millis = message.timestamp()
            # indexer.kafka_time.message_seconds, copied inline: the hot path's one comparison
            if kind and CLOCK_SET_MILLIS <= millis <= KAFKA_MILLIS_MAX:
                seconds = millis / 1000.0
            else:
                seconds = message_seconds(message)
                if clockless(message):
                    metrics.EVENTS_CLOCKLESS.inc()
            index, line, undecodable = transform(
                router, message.value(), topic, partition, offset, seconds, ingested
            )
            if undecodable is not None:
                deadletters[len(lines)] = undecodable
            add_index(index)
            add_line(line)
            high[topic, partition] = offset
        taken = [m for m in messages if m.error() is None] if errors else messages
        for batch in self._batcher.extend(taken, indices, lines, high, deadletters):
            self._seal(batch)
        metrics.EVENTS_CONSUMED.inc(len(lines))
        self._sync_router_counters()

    def _seal(self, batch: Batch) -> None:
        batch.newest_event = self._router.last_event_seconds
        self._tracker.register(batch)
        self._sealed.append(batch)
        self._buffered += batch.size
        metrics.BUFFERED_BYTES.set(self._buffered)

    def _dispatch(self, limit: int | None = None) -> None:
        limit = self._settings.batch.max_in_flight if limit is None else limit
        while self._sealed and self._in_flight < limit:
            self._writers.submit(self._sealed.popleft())
            self._in_flight += 1

    def _collect(self, block: bool, timeout: float = 0.0) -> None:
        """Take finished batches; store the offsets they make committable."""
        finished = self._writers.finished
        try:
            item = finished.get(timeout=timeout) if block else finished.get_nowait()
        except queue.Empty:
            return
        while True:
            self._finish(item)
            try:
                item = finished.get_nowait()
            except queue.Empty:
                return

    def _finish(self, item: Finished) -> None:
        self._in_flight -= 1
        self._buffered -= item.batch.size
        metrics.BUFFERED_BYTES.set(self._buffered)
        if item.result is None:
            self._fail(item.error)
            return
        _count(item.result)
        self._namespaces.count(item.batch.indices)
        if item.batch.newest_event is not None:
            metrics.EVENT_LATENCY.observe(max(0.0, time.time() - item.batch.newest_event))
        tripped = self._breaker.record(item.result.documents, item.result.deadlettered_total)
        if tripped is not None:
            self._fail(DeadLetterStorm(tripped))
            return
        parked = item.result.parked
        held = self._parking.park(item.batch, parked) if parked else None
        moved = self._tracker.finish(item.batch, held)
        if moved:
            self._store(moved)

    def _release_parked(self) -> None:
        """Count the outcomes of parked documents and lift the holds of their batches."""
        released = self._parking.released
        while True:
            try:
                item = released.get_nowait()
            except queue.Empty:
                return
            if item.result is None:
                self._fail(item.error)
                return
            _count(item.result)
            moved = self._tracker.release(item.batch)
            if moved:
                self._store(moved)

    def _store(self, moved: dict[tuple[str, int], int]) -> None:
        self._health.progressed()
        offsets = [TopicPartition(topic, p, offset) for (topic, p), offset in moved.items()]
        try:
            self._consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:
            # A partition revoked meanwhile cannot take an offset; its new owner re-reads it.
            log.info("offsets_not_stored", error=str(exc))

    def _fail(self, error: BaseException | None) -> None:
        from indexer.retry import Abandoned

        if isinstance(error, Abandoned):
            return
        if self._failure is None:
            self._failure = error
            log.error("pipeline_failed", error=f"{type(error).__name__}: {error}")
        self._stopping.set()

    def _hold_back(self) -> bool:
        """Whether to stop reading for now.

        Above the memory budget the loop stops consuming while librdkafka keeps its bounded
        prefetch, so a short burst costs no refetch. Above it for `PAUSE_AFTER_SECONDS` (the
        cluster is slow or down), the partitions are paused and the loop polls without reading,
        so the group never sees a stalled member; they resume below half the budget.
        """
        budget = self._settings.batch.max_buffered_bytes
        now = self._clock()
        if self._buffered >= budget or self._parking.bytes >= self._settings.retry.park_max_bytes:
            if self._over_since is None:
                self._over_since = now
            elif self._paused_since is None and now - self._over_since >= PAUSE_AFTER_SECONDS:
                self._set_paused(True)
            return True
        if self._over_since is not None:
            metrics.BACKPRESSURE_SECONDS.inc(now - self._over_since)
            self._over_since = None
        if self._paused_since is not None:
            parked = self._parking.bytes / self._settings.retry.park_max_bytes
            if self._buffered >= budget * RESUME_FRACTION or parked >= RESUME_FRACTION:
                return True
            self._set_paused(False)
        return False

    def _set_paused(self, paused: bool) -> None:
        assignment = self._consumer.assignment()
        if paused:
            if assignment:
                self._consumer.pause(assignment)
            self._paused_since = self._clock()
        else:
            if assignment:
                self._consumer.resume(assignment)
            if self._paused_since is not None:
                metrics.PAUSED_SECONDS.inc(self._clock() - self._paused_since)
            self._paused_since = None
        metrics.PAUSED.set(1 if paused else 0)

    def _on_message_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        log.warning("kafka_error", error=str(error))

    def _sync_router_counters(self) -> None:
        unmatched, redated, not_a_date = self._router.take_counters()
        if unmatched:
            metrics.EVENTS_UNMATCHED.inc(unmatched)
        if redated:
            metrics.EVENTS_REDATED.inc(redated)
        if not_a_date:
            metrics.EVENTS_TIMESTAMP_NOT_A_DATE.inc(not_a_date)

    # Rebalances and shutdown -----------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """A new assignment generation begins: no batch spans it (see `indexer.commit`)."""
        metrics.REBALANCES.labels("assign").inc()
        generation = self._tracker.generation
        if partitions:  # an incremental assignment may be empty: then nothing changes
            generation = self._tracker.assign([(tp.topic, tp.partition) for tp in partitions])
            sealed = self._batcher.start_generation(generation)
            if sealed is not None:
                self._seal(sealed)
        if self._paused_since is not None and partitions:
            consumer.pause(partitions)
        self._health.joined = True
        self._owned.update((tp.topic, tp.partition) for tp in partitions)
        metrics.ASSIGNED_PARTITIONS.set(len(self._owned))
        log.info("partitions_assigned", partitions=_names(partitions), generation=generation)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Finish the revoked partitions' work within the drain timeout and commit it.

        While closing, the shutdown drain has already run: only commit."""
        metrics.REBALANCES.labels("revoke").inc()
        revoked = [(tp.topic, tp.partition) for tp in partitions]
        drained = self._shutdown_drained
        if drained is None:
            drained = self._drain(revoked)
        committed = self._commit()
        self._tracker.forget(revoked)
        self._parking.forget(set(revoked))
        forget_lag(partitions)
        self._owned.difference_update(revoked)
        metrics.ASSIGNED_PARTITIONS.set(len(self._owned))
        log.info(
            "partitions_revoked",
            partitions=_names(partitions),
            drained=drained,
            committed=committed,
        )

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group moved on without us (session or poll timeout): nothing of these partitions
        can be committed any more. The open batch is sealed so that its other partitions' messages
        are tracked and written; the lost partitions' batches will move nothing, now or after a
        new assignment of them (their documents are still written: the same ids, so the new
        owner's copies meet them as 409s)."""
        metrics.REBALANCES.labels("lost").inc()
        sealed = self._batcher.flush()
        if sealed is not None:
            self._seal(sealed)
        lost = [(tp.topic, tp.partition) for tp in partitions]
        self._tracker.forget(lost)
        self._parking.forget(set(lost))
        forget_lag(partitions)
        self._owned.difference_update(lost)
        metrics.ASSIGNED_PARTITIONS.set(len(self._owned))
        log.warning("partitions_lost", partitions=_names(partitions))

    def _drain(self, partitions: list[tuple[str, int]] | None) -> bool:
        """Send everything buffered and wait for the batches touching `partitions` (or all).

        True when they all finished within the drain timeout, which a stop request shortens to
        its own deadline (so a revoke in progress when SIGTERM arrives is not followed by a
        second full drain).
        """
        sealed = self._batcher.flush()
        if sealed is not None:
            self._seal(sealed)
        deadline = self._clock() + self._settings.shutdown.drain_timeout_seconds
        while self._tracker.unfinished(partitions) and self._failure is None:
            self._dispatch(limit=len(self._sealed) + self._in_flight)
            if self._stop_deadline is not None:
                deadline = min(deadline, self._stop_deadline)
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._health.beat()
            self._collect(block=True, timeout=min(remaining, 0.5))
            self._release_parked()
        return self._failure is None

    def _commit(self) -> CommitOutcome:
        """Synchronously commit every stored offset (revoked partitions are still assigned
        while their callback runs, so theirs are included). Counted like librdkafka's background
        commits (whose callback never sees a synchronous commit). "nothing new" when no offset
        was stored since the last commit: the log must not claim a commit that did not happen."""
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError._NO_OFFSET:
                return "nothing new"
            metrics.OFFSETS_COMMITTED.labels("error").inc()
            log.warning("commit_failed", error=str(exc))
            return "failed"
        metrics.OFFSETS_COMMITTED.labels("ok").inc()
        return "ok"

    def _shutdown(self) -> None:
        """One drain, bounded by the stop deadline; then commit and close (closing runs the
        revoke callback, which only commits)."""
        if self._stop_deadline is None:  # stopped by a failure
            self._stop_deadline = self._clock() + self._settings.shutdown.drain_timeout_seconds
        started = self._clock()
        log.info("draining", in_flight=self._in_flight, sealed=len(self._sealed))
        drained = self._drain(None) if self._failure is None else False
        self._writer_stop.set()  # abandon what is still retrying: it stays uncommitted
        self._collect(block=False)
        self._release_parked()
        committed = self._commit()
        self._shutdown_drained = drained
        self._consumer.close()
        log.info(
            "stopped",
            drained=drained,
            committed=committed,
            seconds=round(self._clock() - started, 3),
        )


def _count(result: BulkResult) -> None:
    metrics.EVENTS_INDEXED.inc(result.indexed)
    if result.salvaged:
        metrics.EVENTS_SALVAGED.inc(result.salvaged)
    if result.duplicates:
        metrics.EVENTS_DUPLICATE.inc(result.duplicates)
    for reason, count in result.deadlettered.items():
        metrics.EVENTS_DEADLETTERED.labels(reason).inc(count)


def _names(partitions: list[TopicPartition]) -> list[str]:
    return [f"{tp.topic}[{tp.partition}]" for tp in partitions]
