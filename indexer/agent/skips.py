"""Entries the agent cannot handle: counted every time they are met, logged once per path and kind.

A tenant can put anything in its log directories (FIFOs, sockets, symlinks, directories named like
files, impossible generation names, names with newlines) or delete them under our feet. Each such
entry is skipped on its own, so the rest of the node is still rotated, compressed and pruned.
The count (`indexer_agent_errors_total{stage,kind}`) goes up at every pass that meets the entry,
so an alert sees it for as long as it is there; the log line is written once per process.
"""

from __future__ import annotations

import structlog

from indexer.agent import metrics
from indexer.agent.regular import NotRegularFile

log = structlog.get_logger()

# Kinds (the `kind` label). `vanished`: deleted while we looked (a pod going away; not a failure).
WRONG_TYPE = "wrong_type"  # a FIFO, socket, device, symlink, or directory where a file is expected
BAD_NAME = "bad_name"  # a name the agent's own format cannot hold (`app.log.00000000T000000Z`)
VANISHED = "vanished"
PERMISSION = "permission"
OS_ERROR = "os_error"
INVALID = "invalid"  # anything else (unreadable content, a bug): still isolated to its entry

# One log line per (stage, kind, path); bounded so a tenant creating names without end cannot
# grow the agent's memory: past the bound, entries are still counted but no longer logged.
_LOGGED_LIMIT = 10_000
_logged: set[tuple[str, str, str]] = set()


def kind_of(exc: BaseException) -> str:
    """The `kind` label for an exception raised while handling one entry."""
    if isinstance(exc, NotRegularFile):
        return WRONG_TYPE
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return VANISHED
    if isinstance(exc, PermissionError):
        return PERMISSION
    if isinstance(exc, OSError):
        return OS_ERROR
    return INVALID


def skipped(stage: str, kind: str, path: object, error: object = None) -> None:
    """Count one skipped entry; log it unless this (stage, kind, path) was logged before."""
    metrics.ERRORS.labels(stage, kind).inc()
    key = (stage, kind, str(path))
    if key in _logged or len(_logged) >= _LOGGED_LIMIT:
        return
    _logged.add(key)
    level = log.info if kind == VANISHED else log.warning
    level("agent.entry_skipped", stage=stage, kind=kind, path=str(path), error=str(error or ""))
