"""Whether a process holds s6-log's `lock` file, without taking the lock ourselves.

s6-log takes a POSIX record lock (`fcntl`, seen in `/proc/locks` as `POSIX ADVISORY WRITE`) on
`<logdir>/lock` for as long as it runs. `F_GETLK` asks the kernel whether a lock would conflict,
and locks are per inode, so this works across containers sharing the host directory.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from indexer.agent.regular import open_regular

# struct flock on Linux: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid.
_FLOCK = "hhqqi"


def held(lock_file: Path) -> bool:
    """True when another process holds a lock on `lock_file`; False when none or no file.

    Raises NotRegularFile when `lock_file` is a symlink, FIFO, directory or other non-file
    (s6-log's is always a regular file, so whether it is held cannot be told), or another
    OSError: the caller then leaves that pod alone.
    """
    try:
        fd = open_regular(lock_file)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        query = struct.pack(_FLOCK, fcntl.F_RDLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    lock_type: int = struct.unpack(_FLOCK, answer)[0]
    return lock_type != fcntl.F_UNLCK
