"""Open regular files only, and never block doing it.

Opening a FIFO for reading blocks until a writer appears; opening a device can have side effects;
following a symlink can lead anywhere on the host. So the entry is checked with `lstat` before it
is opened (nothing else is ever opened), opened with `O_NOFOLLOW | O_NONBLOCK` (a swap to a FIFO
or symlink between the check and the open neither blocks nor follows), and checked again with
`fstat` on the descriptor: same inode, regular file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class NotRegularFile(OSError):
    """The entry exists but is not a regular file (FIFO, socket, device, symlink, directory)."""


def check_regular(path: Path) -> os.stat_result:
    """`lstat(path)` when it is a regular file; raises NotRegularFile, or OSError from lstat."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(errno.EINVAL, "not a regular file", str(path))
    return info


def open_regular(path: Path, flags: int = os.O_RDONLY) -> int:
    """A blocking-mode descriptor of the regular file at `path` (the caller closes it).

    Raises NotRegularFile when the entry is anything else (also when it was swapped after the
    check), FileNotFoundError when it is gone, or another OSError from `open`.
    """
    before = check_regular(path)
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise NotRegularFile(errno.EINVAL, "replaced while opening", str(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd
