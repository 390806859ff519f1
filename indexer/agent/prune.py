"""Remove the log directories of pods that are gone: nothing in them changed for the retention.

The agent has no Kubernetes API access; a pod directory whose newest entry (files and
directories, symlinks not followed) is older than the retention belongs to a pod that is gone.
An app directory left empty is removed too, which later retires the app's input.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import structlog

from indexer.agent import metrics
from indexer.agent.scan import pod_dirs

log = structlog.get_logger()


def prune(root: Path, retention_seconds: float, now: float) -> list[Path]:
    """Remove stale pod directories under `root`; the ones removed."""
    removed = []
    for pod_dir in list(pod_dirs(root)):
        if now - newest_change(pod_dir) < retention_seconds:
            continue
        shutil.rmtree(pod_dir, ignore_errors=True)
        if not pod_dir.exists():
            removed.append(pod_dir)
            metrics.PRUNED.inc()
            log.info("agent.pruned", path=str(pod_dir))
            with contextlib.suppress(OSError):  # not empty: another pod, or a new one
                os.rmdir(pod_dir.parent)
    return removed


def newest_change(directory: Path) -> float:
    """The latest mtime or ctime of `directory` and anything below it, symlinks not followed."""
    newest = _changed(os.lstat(directory))
    for parent, dirs, files in os.walk(directory, followlinks=False):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, _changed(os.lstat(os.path.join(parent, name))))
    return newest


def _changed(info: os.stat_result) -> float:
    return max(info.st_mtime, info.st_ctime)
