"""`indexer deadletter replay`: send dead letters to their indices again, once the cause is fixed.

For each selected dead letter the preserved original bytes go through decode, route and encode
as in the pipeline (the Kafka timestamp is the dead letter's `@timestamp`), so the document gets
the index and `_id` (docid.py) it would have had. `BulkWriter` writes it with the
usual outcome table:

- indexed, or 409 (already there: a duplicate): the dead letter is deleted afterwards, by `_id`
  from the index it is in, and only once the document is read back from its target index (every
  document, whatever the bulk answered); the document under that id must also be the same line
  (message, file, offset, host), else the dead letter is kept and counted as still failing with
  `id_taken_by_another_line`;
- still answered 429/5xx after the writer's rounds, or its index not to be had for now (the
  writer *parks* such items, and a replay has no parking lot to retry them): the dead letter is
  kept and counted as still failing under that condition (`unavailable_shards_exception`, ...);
- refused again: `BulkWriter` dead-letters it under the same `_id` into the same day's index,
  which answers 409 against the dead letter already there, so it is simply kept, and counted as
  still failing with the new reason (the stored dead letter keeps its old `error.*`);
- undecodable originals (`invalid_json`, ...) would fail again: they are skipped and counted,
  unless `--error-type` names their type, in which case they count as still failing.

Nothing is deleted in a dry run, and nothing is written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from indexer.batch import Batch, Batcher, BatchPolicy
from indexer.bulk import BulkWriter, action_id_text, action_index
from indexer.cluster import ClusterError, ClusterUnavailable, SearchClient
from indexer.replay.progress import Progress
from indexer.replay.scope import Scope, format_instant, identity_of_index
from indexer.replay.stored import DeadLetter, MalformedDeadLetter, StoredMessage
from indexer.replay.transform import Routed, transform
from indexer.replay.writing import Tally
from indexer.route import Router
from indexer.settings import Settings

log = structlog.get_logger(__name__)

PAGE_SIZE = 500
SCROLL_KEEP_ALIVE = "10m"
# What names a line (docid.py): a document under the same id that differs here is another line.
SAME_LINE = ("message", "log.offset", "log.file.path", "log.file.inode", "host.name")
ID_TAKEN = "id_taken_by_another_line"
DELETE_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"


@dataclass
class DeadLetterSummary:
    """What a dead-letter replay did (or, in a dry run, would do), per dead letter."""

    dry_run: bool
    selected: int = 0
    replayed: int = 0
    """Written and confirmed in the target index (indexed now, or already there)."""
    deleted: int = 0
    kept_unconfirmed: int = 0
    """Replayed, but not confirmed or not deleted (a later run finds them duplicates)."""
    still_failing: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False
    tally: Tally = field(default_factory=Tally)
    listing: list[dict[str, Any]] = field(default_factory=list)
    """Dry run only: one entry per selected dead letter."""

    @property
    def failed(self) -> bool:
        return bool(self.still_failing) or self.kept_unconfirmed > 0 or self.interrupted

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": "deadletter replay",
            "dry_run": self.dry_run,
            "selected": self.selected,
            "replayed": self.replayed,
            "indexed": self.tally.indexed,
            "duplicates": self.tally.duplicates,
            "salvaged": self.tally.salvaged,
            "not_written": dict(sorted(self.tally.not_written.items())),
            "deleted": self.deleted,
            "kept_unconfirmed": self.kept_unconfirmed,
            "still_failing": dict(sorted(self.still_failing.items())),
            "skipped": dict(sorted(self.skipped.items())),
            "interrupted": self.interrupted,
        }
        if self.dry_run:
            data["would_replay"] = sum(1 for e in self.listing if e["action"] == "replay")
            data["listing"] = self.listing
        return data


def deadletter_pattern(prefix: str) -> str:
    return f"{prefix}-deadletter-*"


def search_query(scope: Scope) -> dict[str, Any]:
    """The time window as an Elasticsearch query (the rest is filtered client-side, where the
    mapping of the dead-letter index cannot change the meaning)."""
    bounds: dict[str, Any] = {}
    if scope.since is not None:
        bounds["gte"] = int(scope.since * 1000)
    if scope.until is not None:
        bounds["lt"] = int(scope.until * 1000)
    if not bounds:
        return {"match_all": {}}
    return {"range": {"@timestamp": {**bounds, "format": "epoch_millis"}}}


class DeadLetterReplay:
    """One run over the dead-letter indices. Not thread-safe; `stop` interrupts it between
    batches (and makes a retrying write give up; its dead letters are then kept)."""

    def __init__(
        self,
        settings: Settings,
        client: SearchClient,
        writer: BulkWriter,
        scope: Scope,
        stop: threading.Event,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> None:
        self._client = client
        self._writer = writer
        self._scope = scope
        self._stop = stop
        self._limit = limit
        self._prefix = settings.routing.index_prefix
        self._router = Router(settings.routing, settings.parsing)
        self._batcher = Batcher(BatchPolicy.from_settings(settings.batch), time.monotonic)
        self.summary = DeadLetterSummary(dry_run=dry_run)
        self._progress = Progress("dead letters")
        self._total: int | None = None
        """Dead letters in the window, as the first search page counts them."""
        self._scanned = 0

    def run(self) -> DeadLetterSummary:
        """Replay every selected dead letter; returns the summary (also on interruption).

        Raises `bulk.DeadLetterRejected` when the dead-letter index refuses a re-written dead
        letter: then nothing of that batch was deleted.
        """
        from indexer.retry import Abandoned

        try:
            for letter in self._selected():
                self._take(letter)
                self._progress.update(self._scanned, self._total)
                if self._stop.is_set():
                    break
            sealed = self._batcher.flush()
            if sealed is not None and not self._stop.is_set():
                self._write(sealed)
        except Abandoned:
            pass
        finally:
            self._progress.update(self._scanned, self._total, force=True)
            self._progress.done()
        self.summary.interrupted = self._stop.is_set()
        return self.summary

    # Selection ------------------------------------------------------------------------------

    def _selected(self) -> Iterator[DeadLetter]:
        scope = self._scope
        for hit in self._hits():
            self._scanned += 1
            try:
                letter = DeadLetter.from_hit(hit)
            except MalformedDeadLetter as exc:
                log.warning("malformed_dead_letter", error=str(exc))
                _bump(self.summary.skipped, "malformed_dead_letter")
                continue
            if not (scope.in_window(letter.seconds) and scope.selects_error(letter.error_type)):
                continue
            if scope.by_identity and not scope.selects_identity(self._identity(letter)):
                continue
            if self._limit is not None and self.summary.selected >= self._limit:
                return
            self.summary.selected += 1
            yield letter

    def _identity(self, letter: DeadLetter) -> tuple[str, str] | None:
        """From the index that refused it; when that names none (no target, a namespace's
        shared index), from routing its original."""
        if letter.target_index is not None:
            identity = identity_of_index(self._prefix, letter.target_index)
            if identity is not None:
                return identity
        return self._route(letter).identity

    def _hits(self) -> Iterator[dict[str, Any]]:
        """Every dead letter in the window, oldest first, by scroll.

        A scroll reads a snapshot, so deleting replayed dead letters meanwhile moves nothing.
        """
        response = self._client.request(
            "POST",
            f"/{deadletter_pattern(self._prefix)}/_search",
            {
                "query": search_query(self._scope),
                "sort": [{"@timestamp": {"order": "asc", "unmapped_type": "date"}}],
                "size": PAGE_SIZE,
            },
            {"scroll": SCROLL_KEEP_ALIVE, "ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        scroll_id = response.get("_scroll_id")
        total = response.get("hits", {}).get("total")
        self._total = total.get("value") if isinstance(total, dict) else total
        try:
            while True:
                hits: list[dict[str, Any]] = response["hits"]["hits"]
                if not hits:
                    return
                yield from hits
                if scroll_id is None:
                    return
                response = self._client.request(
                    "POST",
                    "/_search/scroll",
                    {"scroll_id": scroll_id, "scroll": SCROLL_KEEP_ALIVE},
                )
                scroll_id = response.get("_scroll_id", scroll_id)
        finally:
            if scroll_id is not None:
                try:
                    self._client.request("DELETE", "/_search/scroll", {"scroll_id": scroll_id})
                except (ClusterError, ClusterUnavailable) as exc:
                    log.info("scroll_not_cleared", error=str(exc))

    # Replay ---------------------------------------------------------------------------------

    def _route(self, letter: DeadLetter) -> Routed:
        return transform(
            self._router,
            self._prefix,
            letter.original,
            letter.topic,
            letter.partition,
            letter.offset,
            letter.seconds,
        )

    def _take(self, letter: DeadLetter) -> None:
        routed = self._route(letter)
        if routed.undecodable is not None:
            # Decoding is a pure function of the bytes: it fails again, whatever was fixed.
            named = self._scope.names_error(letter.error_type)
            _bump(self.summary.still_failing if named else self.summary.skipped, routed.undecodable)
            self._list(letter, "fails" if named else "skip", None)
            return
        self._list(letter, "replay", routed.index)
        if self.summary.dry_run:
            return
        stored = StoredMessage(letter)
        sealed = self._batcher.add(
            stored, (stored.topic(), stored.partition()), stored.offset(), routed.index, routed.line
        )
        if sealed is not None:
            self._write(sealed)

    def _list(self, letter: DeadLetter, action: str, target: str | None) -> None:
        if self.summary.dry_run:
            self.summary.listing.append(
                {
                    "action": action,
                    "index": letter.index,
                    "id": letter.id,
                    "timestamp": format_instant(letter.seconds),
                    "error_type": letter.error_type,
                    "target_index": target or letter.target_index,
                }
            )

    def _write(self, batch: Batch) -> None:
        """Write one batch and delete the dead letters whose documents are confirmed stored.

        Every document is read back (a realtime get) before its dead letter goes: a write that
        answered no error proves nothing about an item the writer parked (still 429/5xx after
        `retry.park_after_attempts` rounds, or its index not to be had for now), and such an item
        has no outcome at all. Parked items count as still failing under their condition, and
        their dead letters stay for a later run."""
        result = self._writer.write(batch)
        self.summary.tally.add(result)
        for reason, count in result.deadlettered.items():
            _bump(self.summary.still_failing, reason, count)
        for reason in result.parked.values():
            _bump(self.summary.still_failing, reason)
        messages: list[StoredMessage] = batch.messages
        present, taken = self._present(batch)
        if taken:
            _bump(self.summary.still_failing, ID_TAKEN, len(taken))
            for message in taken:
                log.warning(
                    "dead_letter_id_taken", index=message.letter.index, id=message.letter.id
                )
        self.summary.replayed += len(present)
        deleted = self._delete([m.letter for m in present])
        self.summary.deleted += deleted
        self.summary.kept_unconfirmed += len(present) - deleted
        accounted = result.deadlettered_total + len(result.parked) + len(present) + len(taken)
        self.summary.kept_unconfirmed += max(0, len(messages) - accounted)

    def _present(self, batch: Batch) -> tuple[list[StoredMessage], list[StoredMessage]]:
        """(messages whose document is in its index, messages whose id holds another line),
        by a realtime get (no refresh).

        The index is read from the action line as written: index preparation may have pointed
        it elsewhere than routing did (a namespace's shared index under the shard budget).
        """
        messages: list[StoredMessage] = batch.messages
        docs = [{"_index": action_index(line), "_id": action_id_text(line)} for line in batch.lines]
        try:
            response = self._client.request(
                "POST", "/_mget", {"docs": docs}, {"_source_includes": ",".join(SAME_LINE)}
            )
        except (ClusterError, ClusterUnavailable) as exc:
            log.warning("replay_not_confirmed", documents=len(messages), error=str(exc))
            return [], []
        present: list[StoredMessage] = []
        taken: list[StoredMessage] = []
        found: list[dict[str, Any]] = response["docs"]
        for message, line, doc in zip(messages, batch.lines, found, strict=True):
            if doc.get("found") is not True:
                continue
            written = orjson.loads(line[line.index(b"\n") + 1 :])
            same = _same_line(written, doc.get("_source") or {})
            (present if same else taken).append(message)
        return present, taken

    def _delete(self, letters: list[DeadLetter]) -> int:
        """Delete dead letters by `_id` from their own index; returns how many are gone."""
        if not letters:
            return 0
        body = b"".join(
            orjson.dumps({"delete": {"_index": x.index, "_id": x.id}}) + b"\n" for x in letters
        )
        try:
            response = self._client.bulk(body, DELETE_FILTER)
        except (ClusterError, ClusterUnavailable) as exc:
            log.warning("dead_letters_not_deleted", count=len(letters), error=str(exc))
            return 0
        if not response.get("errors"):
            return len(letters)
        gone = 0
        for letter, item in zip(letters, response.get("items", []), strict=False):
            status = int(next(iter(item.values())).get("status", 0))
            if status in (200, 404):  # 404: deleted meanwhile, gone all the same
                gone += 1
            else:
                log.warning("dead_letter_not_deleted", index=letter.index, id=letter.id, item=item)
        return gone


def _same_line(written: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether a stored document is the line a replay wrote: the fields its id is made of."""
    return all(_field(written, path) == _field(stored, path) for path in SAME_LINE)


def _field(document: dict[str, Any], path: str) -> object:
    value: object = document
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _bump(counts: dict[str, int], key: str, by: int = 1) -> None:
    counts[key] = counts.get(key, 0) + by
