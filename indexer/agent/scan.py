"""Log tree → what exists: valid namespaces, apps and pod directories, symlinks never followed.

Layout: `<root>/<namespace>/<app>/<pod>/log/<file>`. Hidden entries (the agent's own state
directory) are ignored silently; other invalid names are skipped with one warning each.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

from indexer.agent import skips
from indexer.agent.names import valid_app, valid_namespace, valid_pod

AppKey = tuple[str, str]

log = structlog.get_logger()
_warned: set[str] = set()


@dataclass(frozen=True, slots=True)
class Tree:
    """One full scan: the apps that need an input, and the namespace directories to watch."""

    namespaces: frozenset[str]
    apps: frozenset[AppKey]


def scan(root: Path) -> Tree:
    """Everything under `root` that is a valid namespace or app directory."""
    namespaces = frozenset(name for name, _ in _subdirs(root, valid_namespace))
    apps = frozenset((ns, app) for ns in namespaces for app, _ in _subdirs(root / ns, valid_app))
    return Tree(namespaces=namespaces, apps=apps)


def pod_dirs(root: Path) -> Iterator[Path]:
    """Every valid `<root>/<namespace>/<app>/<pod>` directory."""
    for _, ns_dir in _subdirs(root, valid_namespace):
        for _, app_dir in _subdirs(ns_dir, valid_app):
            for _, pod_dir in _subdirs(app_dir, valid_pod):
                yield pod_dir


def _subdirs(parent: Path, valid: Callable[[str], bool]) -> Iterator[tuple[str, Path]]:
    try:
        entries = list(os.scandir(parent))
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:  # unreadable: skip it, the rest of the tree is still scanned
        skips.skipped("scan", skips.kind_of(exc), parent, exc)
        return
    for entry in entries:
        if entry.name.startswith(".") or not _is_dir(entry):
            continue
        if valid(entry.name):
            yield entry.name, Path(entry.path)
        else:
            _warn_once(entry.path)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _warn_once(path: str) -> None:
    if path not in _warned:
        _warned.add(path)
        log.warning("agent.name_skipped", path=path, reason="not a valid Kubernetes name")
