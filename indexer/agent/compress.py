"""Gzip rotated generations in a background thread, keeping owner, group, mode and mtime."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import structlog

from indexer.agent import metrics, skips
from indexer.agent.regular import open_regular
from indexer.agent.write import fsync_dir

log = structlog.get_logger()


def gzip_file(path: Path) -> int:
    """Replace `path` by `path.gz`; the bytes compressed (0 when `path` is gone).

    Only a regular file is opened, never blocking (indexer.agent.regular): anything else raises
    NotRegularFile, so a FIFO named like a generation cannot hold the only compressor thread.
    """
    try:
        source = open_regular(path)
    except FileNotFoundError:
        return 0
    target = path.with_name(path.name + ".gz")
    temp = path.with_name(f".{target.name}.tmp")
    with os.fdopen(source, "rb") as src:
        info = os.fstat(src.fileno())
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fchown(raw.fileno(), info.st_uid, info.st_gid)
                os.fchmod(raw.fileno(), info.st_mode & 0o7777)
            with open(temp, "rb") as done:
                os.fsync(done.fileno())
            os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
            os.replace(temp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fsync_dir(path.parent)
    return info.st_size


class Compressor:
    """One background worker; `drain()` waits for everything submitted so far."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agent-gzip")
        self._pending: list[Future[int]] = []

    def submit(self, path: Path) -> None:
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._pool.submit(self._compress, path))

    def drain(self) -> None:
        for future in list(self._pending):
            future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    @staticmethod
    def _compress(path: Path) -> int:
        try:
            size = gzip_file(path)
        except Exception as exc:
            skips.skipped("compress", skips.kind_of(exc), path, exc)
            return 0
        metrics.COMPRESSED_BYTES.inc(size)
        return size
