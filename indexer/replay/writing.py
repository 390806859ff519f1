"""The bulk writer as `indexer run` builds it, and tallies of the outcomes it reports."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from indexer.bulk import BulkResult, BulkWriter
from indexer.cluster import SearchClient, connect
from indexer.settings import Settings


@dataclass
class Writing:
    """A client and the writer on it. Setting `stop` makes a retrying `write` raise `Abandoned`."""

    client: SearchClient
    writer: BulkWriter
    stop: threading.Event

    def close(self) -> None:
        self.client.close()


def build_writing(settings: Settings) -> Writing:
    """The same composition as `indexer.main.build_indexer`, without the pipeline."""
    from indexer.main import build_writer

    client = connect(settings.elasticsearch)
    stop = threading.Event()
    return Writing(client, build_writer(settings, client, stop), stop)


@dataclass
class Tally:
    """Sums of `BulkResult`s: indexed + duplicates + dead-lettered + not written == documents.

    `not_written` counts, by condition, the documents the writer parked (still answered 429/5xx
    after its rounds, or their index not to be had for now): they have no outcome, and a replay
    that leaves any has failed."""

    documents: int = 0
    indexed: int = 0
    duplicates: int = 0
    salvaged: int = 0
    deadlettered: dict[str, int] = field(default_factory=dict)
    not_written: dict[str, int] = field(default_factory=dict)

    @property
    def not_written_total(self) -> int:
        return sum(self.not_written.values())

    def add(self, result: BulkResult) -> None:
        self.documents += result.documents
        self.indexed += result.indexed
        self.duplicates += result.duplicates
        self.salvaged += result.salvaged
        for reason, count in result.deadlettered.items():
            self.deadlettered[reason] = self.deadlettered.get(reason, 0) + count
        for reason in result.parked.values():
            self.not_written[reason] = self.not_written.get(reason, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.documents,
            "indexed": self.indexed,
            "duplicates": self.duplicates,
            "salvaged": self.salvaged,
            "deadlettered": dict(sorted(self.deadlettered.items())),
            "not_written": dict(sorted(self.not_written.items())),
        }
