"""Writers: a fixed pool of threads that each write one batch at a time.

Daemon threads: a request hanging at shutdown must not keep the process alive once the drain
timeout has passed (its batch is simply not committed).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from indexer import metrics
from indexer.batch import Batch
from indexer.bulk import BulkResult


@dataclass(frozen=True)
class Finished:
    batch: Batch
    result: BulkResult | None
    error: BaseException | None


class Writers:
    """`submit` never blocks; each finished batch comes back on `finished`, with its result or
    the exception its write raised."""

    def __init__(self, count: int, write: Callable[[Batch], BulkResult]) -> None:
        self._write = write
        self._todo: queue.SimpleQueue[Batch] = queue.SimpleQueue()
        self.finished: queue.SimpleQueue[Finished] = queue.SimpleQueue()
        for n in range(count):
            threading.Thread(target=self._work, name=f"bulk-writer-{n}", daemon=True).start()

    def submit(self, batch: Batch) -> None:
        self._todo.put(batch)

    def _work(self) -> None:
        while True:
            batch = self._todo.get()
            metrics.BULK_IN_FLIGHT.inc()
            try:
                self.finished.put(Finished(batch, self._write(batch), None))
            except BaseException as exc:
                self.finished.put(Finished(batch, None, exc))
            finally:
                metrics.BULK_IN_FLIGHT.dec()
