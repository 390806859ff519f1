"""Atomic file replacement: readers see the old file or the new one, never a mix or a gap."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path


def write_atomic(
    path: Path,
    text: str,
    *,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    check: Callable[[str], object] | None = None,
) -> bool:
    """Make `path` hold `text` with exactly this mode and owner; False when it already did.

    The text goes to a hidden temp name in the same directory (outside any `*.yml` glob), is
    fsynced, given its mode and owner, read back and passed to `check` (which raises to refuse
    it), then renamed over `path`; the directory is fsynced last so the rename survives a crash.
    """
    data = text.encode("utf-8")
    if _already(path, data, mode, uid, gid):
        return False
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        if check is not None:
            check(temp.read_text(encoding="utf-8"))
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    fsync_dir(path.parent)
    return True


def remove(path: Path) -> bool:
    """Delete `path` durably; False when it was not there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    fsync_dir(path.parent)
    return True


def fsync_dir(directory: Path) -> None:
    """Flush a directory's entries (renames, creations, deletions) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _already(path: Path, data: bytes, mode: int, uid: int, gid: int) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except (FileNotFoundError, OSError):
        return False
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        same_meta = (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (mode, uid, gid)
        return same_meta and file.read(len(data) + 1) == data
