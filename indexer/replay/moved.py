"""`indexer replay`: a document already stored under its `_id` in another index is not written.

Why: the `_id` never changes for a message (docid.py), but its day can, between the first
delivery and a replay, when what routing reads changed: `routing.max_past` / `max_future`,
`parsing.*` (a line's own time picks the day; `naive_time_zone` moves it), or a parser fix. The
replay would then `create` the document in the new day's index, where no 409 stops it, and the
line would be stored twice under one `_id`.

The rule (docs/failure-handling.md, "Replays"): before each batch is written, its documents'
`_id`s are looked up in every index of ours that holds events (`<prefix>-*_*` and
`<prefix>-unmatched-*`; dead letters have their own replay). A document whose `_id` is stored
only in other indices than the one it routes to now is not written: it counts as already
present (a duplicate), and `replay_moved` log lines name it, where it is and where it would
have gone; `MovedGuard.moved` counts them for the summary. A document stored in its own index
answers 409 as before; one stored nowhere is written where it routes now.

What this does not cover: a live indexer re-reading uncommitted messages just after such a
change (a crash or rebalance during a rollout) routes by the new settings, as any write does.
The look-up is a search: a document written less than the cluster's refresh interval (5 s)
before the replay reads it is not seen yet.
"""

from __future__ import annotations

import dataclasses

import orjson
import structlog

from indexer.batch import Batch
from indexer.bulk import BulkResult, BulkWriter
from indexer.cluster import SearchClient

log = structlog.get_logger(__name__)

_SAMPLES = 5
"""How many moved documents one `replay_moved` line names (it says how many there were)."""


class MovedGuard:
    """Wraps a writer's `write(batch) -> BulkResult`; one per replay (not thread-safe).

    Raises what the writer raises, and ClusterError when the look-up fails (the replay then
    stops, as on any error talking to the cluster: nothing is written unchecked)."""

    def __init__(self, writer: BulkWriter, client: SearchClient, prefix: str) -> None:
        self._writer = writer
        self._client = client
        self._indices = f"{prefix}-*_*,{prefix}-unmatched-*"
        self.moved = 0

    def write(self, batch: Batch) -> BulkResult:
        routed = {
            position: _action(line)
            for position, line in enumerate(batch.lines)
            if position not in batch.deadletters
        }
        stored = self._stored({doc_id for _, doc_id in routed.values()})
        moved = {
            position: (doc_id, index, stored[doc_id])
            for position, (index, doc_id) in routed.items()
            if doc_id in stored and index not in stored[doc_id]
        }
        if not moved:
            return self._writer.write(batch)
        self.moved += len(moved)
        log.warning(
            "replay_moved",
            documents=len(moved),
            examples=[
                {"_id": doc_id, "stored_in": sorted(found), "routes_to": index}
                for doc_id, index, found in list(moved.values())[:_SAMPLES]
            ],
            why="stored under its _id in another index than it routes to now (routing or "
            "parsing settings, or the parser, changed): not written again",
        )
        kept = [position for position in range(len(batch.lines)) if position not in moved]
        result = self._writer.write(_subset(batch, kept)) if kept else BulkResult(documents=0)
        return dataclasses.replace(
            result,
            documents=len(batch.lines),
            duplicates=result.duplicates + len(moved),
            parked={kept[position]: error for position, error in result.parked.items()},
        )

    def _stored(self, ids: set[str]) -> dict[str, set[str]]:
        """The indices of ours that hold each of `ids` (only those found)."""
        if not ids:
            return {}
        answer = self._client.request(
            "POST",
            f"/{self._indices}/_search",
            {"query": {"ids": {"values": sorted(ids)}}, "size": 10 * len(ids), "_source": False},
            {"ignore_unavailable": "true", "allow_no_indices": "true"},
        )
        found: dict[str, set[str]] = {}
        for hit in answer.get("hits", {}).get("hits", []):
            found.setdefault(str(hit["_id"]), set()).add(str(hit["_index"]))
        return found


def _action(line: bytes) -> tuple[str, str]:
    """(index, _id) of a document's `create` action line."""
    action = orjson.loads(line[: line.index(b"\n")])["create"]
    return str(action["_index"]), str(action["_id"])


def _subset(batch: Batch, positions: list[int]) -> Batch:
    """A batch of `batch`'s documents at `positions`, in order, with its bookkeeping."""
    subset = Batch(created=batch.created, generation=batch.generation)
    renumber = {old: new for new, old in enumerate(positions)}
    for old in positions:
        line = batch.lines[old]
        subset.lines.append(line)
        subset.messages.append(batch.messages[old])
        index = _action(line)[0]
        subset.indices[index] = subset.indices.get(index, 0) + 1
        subset.size += len(line)
    subset.deadletters = {renumber[p]: r for p, r in batch.deadletters.items() if p in renumber}
    subset.unprepared = {renumber[p] for p in batch.unprepared if p in renumber}
    subset.high = dict(batch.high)
    subset.newest_event = batch.newest_event
    return subset
