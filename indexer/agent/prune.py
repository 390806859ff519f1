"""Remove the log directories of pods that are gone, and only once nothing in them is unread.

The agent has no Kubernetes API access. A pod directory goes only when all of these hold:
- no process holds its s6-log `lock` (s6 keeps s6-log running as long as the pod runs);
- nothing in it (files and directories, symlinks not followed) changed for the retention;
- filebeat's registry shows every file the app's input reads there as read to its end.
An app directory left empty is removed too, which later retires the app's input.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import structlog

from indexer.agent import metrics, skips
from indexer.agent.locks import held
from indexer.agent.scan import pod_dirs

log = structlog.get_logger()

# Whether filebeat has shipped the file at this path to its end (True for files it never reads).
ReadToEnd = Callable[[Path], bool]


def prune(root: Path, retention_seconds: float, now: float, read: ReadToEnd) -> list[Path]:
    """Remove the pod directories under `root` that are gone; the ones removed.

    Each pod is handled on its own: one whose state cannot be told (its `lock` is a symlink or
    FIFO, a subdirectory cannot be listed, a file vanished meanwhile) is kept, counted and logged
    once (indexer.agent.skips), and the other pods are still pruned.
    """
    removed = []
    for pod_dir in list(pod_dirs(root)):
        try:
            if not gone(pod_dir, retention_seconds, now, read):
                continue
        except Exception as exc:
            skips.skipped("prune", skips.kind_of(exc), pod_dir, exc)
            continue
        errors = _remove_tree(pod_dir)
        if errors and os.path.lexists(pod_dir):
            skips.skipped("prune", skips.kind_of(errors[0]), pod_dir, errors[0])
        elif not os.path.lexists(pod_dir):
            removed.append(pod_dir)
            metrics.PRUNED.inc()
            log.info("agent.pruned", path=str(pod_dir))
            with contextlib.suppress(OSError):  # not empty: another pod, or a new one
                os.rmdir(pod_dir.parent)
    return removed


def gone(pod_dir: Path, retention_seconds: float, now: float, read: ReadToEnd) -> bool:
    """Whether `pod_dir` may be removed (the three rules of the module docstring)."""
    if held(pod_dir / "log" / "lock"):
        return False
    if now - newest_change(pod_dir) < retention_seconds:
        return False
    unread = [p for p in _files(pod_dir) if not read(p)]
    if unread:
        log.warning("agent.prune_waits_for_filebeat", path=str(pod_dir), unread=len(unread))
    return not unread


def newest_change(directory: Path) -> float:
    """The latest mtime or ctime of `directory` and anything below it, symlinks not followed.

    Raises OSError when a directory below cannot be listed (what it holds is unknown).
    """
    newest = _changed(os.lstat(directory))
    for parent, dirs, files in os.walk(directory, onerror=_raise, followlinks=False):
        for name in dirs + files:
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, _changed(os.lstat(os.path.join(parent, name))))
    return newest


def _files(directory: Path) -> list[Path]:
    found = []
    for parent, _, files in os.walk(directory, onerror=_raise, followlinks=False):
        found += [Path(parent, name) for name in files]
    return found


def _remove_tree(directory: Path) -> list[BaseException]:
    """`rmtree` going on past errors (symlinks are removed, never followed); the errors met."""
    errors: list[BaseException] = []

    def note(_function: object, _path: object, info: tuple[object, BaseException, object]) -> None:
        errors.append(info[1])

    shutil.rmtree(directory, onerror=note)
    return errors


def _raise(error: OSError) -> None:
    raise error


def _changed(info: os.stat_result) -> float:
    return max(info.st_mtime, info.st_ctime)
