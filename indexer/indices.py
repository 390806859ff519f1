"""Indices on demand: the contract between the bulk writer and whatever prepares indices.

The implementation is `indexer.admin.preparer.IndexPreparer`: it creates each index explicitly
the first time this process writes to it (so the indexer works on clusters with
`action.auto_create_index: false`), after its namespace template and within the shard budget.
"""

from __future__ import annotations

from typing import Protocol

from indexer.retry import RetryableCondition


class IndexRejected(Exception):
    """The cluster refused to create an index for a reason retrying will not fix."""

    def __init__(self, index: str, error_type: str, reason: str) -> None:
        super().__init__(f"creating index {index} failed: {error_type}: {reason}")
        self.index = index
        self.error_type = error_type
        self.reason = reason


class IndexNotReady(RetryableCondition):
    """One index cannot take documents for now (a block, an exhausted shard budget), while the
    cluster answers: retried, and its documents parked like those of a red index (parking.py).
    `reason` names the condition in metrics and in a `retry_exhausted` dead letter."""

    reason = "index_not_ready"


class IndexEnsurer(Protocol):
    """What the bulk writer needs: a writable index for a name, and a way to forget one."""

    def ensure(self, index: str) -> str:
        """Make sure a writable index exists for `index`; return the name to write to.

        Raises IndexRejected when the cluster refuses for good, IndexNotReady when the index
        cannot be had for now; ClusterUnavailable and transient ClusterErrors (429, 5xx)
        propagate (the caller retries)."""
        ...

    def forget(self, index: str) -> None: ...
