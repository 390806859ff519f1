"""The outcome table: what each bulk item status means. Every document gets exactly one outcome.

| item status                                   | outcome      | what happens                       |
|-----------------------------------------------|--------------|------------------------------------|
| 200, 201                                      | INDEXED      | acknowledged                       |
| 409 (version conflict on `create`)            | DUPLICATE    | already indexed: success, no retry |
| 429, 5xx                                      | RETRY        | only those items, with backoff     |
| 404 `index_not_found_exception`               | RETRY        | index deleted under us: re-create  |
| 403 `cluster_block_exception` (write block)   | RETRY        | an operator or ISM blocked writes  |
| any other 4xx                                 | REJECTED     | dead-lettered with type and reason |

Whole-request failures never produce an item outcome: a 413 splits the request in halves (a single
document that is still too large is REJECTED), and connection errors, timeouts, 429, 5xx and any
other request-level error are retried with backoff until they succeed or the writer is stopped.
"""

from __future__ import annotations

from enum import Enum

# Refusals that say "not now" whatever their status: blocks (OpenSearch's write block after
# `force_merge`, a user's `index.blocks.write`, the create-index block at high disk, 403;
# REAL-CLUSTERS.md §5) lift, and the document is fine. Dead-lettering them would move every
# line of a blocked index aside for good.
BLOCKED = frozenset({"cluster_block_exception", "index_create_block_exception"})


class Outcome(Enum):
    INDEXED = "indexed"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    REJECTED = "rejected"


def classify(status: int, error_type: str | None = None) -> Outcome:
    """The outcome of one bulk item, from its HTTP status and error type."""
    if 200 <= status < 300:
        return Outcome.INDEXED
    if status == 409:
        return Outcome.DUPLICATE
    if status == 429 or status >= 500:
        return Outcome.RETRY
    if status == 404 and error_type == "index_not_found_exception":
        return Outcome.RETRY
    if error_type in BLOCKED:
        return Outcome.RETRY
    return Outcome.REJECTED
