"""inotify on the top two levels of the log tree: namespace and app directories coming and going.

Events only say *that* something changed; the reconcile that follows scans the whole tree, so a
lost or reordered event costs nothing but latency. A queue overflow or a watch that cannot be
set asks for an immediate full reconcile.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

import structlog
from inotify_simple import INotify, flags

from indexer.agent import metrics
from indexer.agent.skips import kind_of

log = structlog.get_logger()

_MASK = (
    flags.CREATE
    | flags.DELETE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.DELETE_SELF
    | flags.MOVE_SELF
    | flags.ONLYDIR
)
_TREE_CHANGES = flags.CREATE | flags.DELETE | flags.MOVED_FROM | flags.MOVED_TO


class Change(enum.Enum):
    """What a batch of events means for the reconciler."""

    NONE = "none"
    TREE = "tree"  # a directory appeared or vanished: reconcile after settling
    RESYNC = "resync"  # events were lost or a watch failed: reconcile now


class Watcher:
    """Watches `root` and each namespace directory given to `sync`."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._inotify = INotify()
        self._paths: dict[int, Path] = {}

    def sync(self, namespaces: Iterable[str]) -> None:
        """Watch the root and these namespace directories (those not watched yet).

        A directory that cannot be watched is only logged: the periodic reconcile covers it.
        """
        wanted = {self._root, *(self._root / ns for ns in namespaces)}
        for path in wanted - set(self._paths.values()):
            self._watch(path)

    def read(self, timeout_seconds: float) -> Change:
        """Wait up to `timeout_seconds` for events and tell what they mean."""
        try:
            events = self._inotify.read(timeout=max(0, int(timeout_seconds * 1000)))
        except OSError as exc:
            metrics.ERRORS.labels("watch", kind_of(exc)).inc()
            log.warning("agent.watch_failed", error=str(exc))
            return Change.RESYNC
        return self.interpret(events)

    def interpret(self, events: Iterable[object]) -> Change:
        """Fold raw inotify events into one Change, adding watches on new namespace dirs."""
        change = Change.NONE
        for event in events:
            mask: int = getattr(event, "mask", 0)
            wd: int = getattr(event, "wd", -1)
            if mask & flags.Q_OVERFLOW:
                log.warning("agent.watch_overflow")
                return Change.RESYNC
            if mask & flags.IGNORED:
                self._paths.pop(wd, None)
            if mask & (flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED):
                change = _worse(change, Change.TREE)
            elif mask & _TREE_CHANGES and mask & flags.ISDIR:
                change = _worse(change, self._new_dir(wd, mask, getattr(event, "name", "")))
        return change

    def close(self) -> None:
        self._inotify.close()

    def _new_dir(self, wd: int, mask: int, name: str) -> Change:
        parent = self._paths.get(wd)
        if parent == self._root and mask & (flags.CREATE | flags.MOVED_TO):
            self._watch(parent / name)
        return Change.TREE

    def _watch(self, path: Path) -> None:
        try:
            wd = self._inotify.add_watch(path, _MASK | flags.DONT_FOLLOW)
        except (FileNotFoundError, NotADirectoryError):
            return  # gone already; the scan will not find it either
        except OSError as exc:
            metrics.ERRORS.labels("watch", kind_of(exc)).inc()
            log.warning("agent.watch_failed", path=str(path), error=str(exc))
            return
        self._paths[wd] = path


def _worse(a: Change, b: Change) -> Change:
    order = [Change.NONE, Change.TREE, Change.RESYNC]
    return max(a, b, key=order.index)
