"""No line lost or duplicated across `rename` rotations, for a reader that follows inodes.

The reader does only what the rendered input tells filebeat's filestream to do: it finds files
by the input's path globs and exclusions (with the stdlib's glob, not our own `covers()`), keys
them by the rendered identity (native: device and inode), and on a rename or removal stops the
file's harvester, unread, when `close.on_state_change.renamed` / `.removed` say so.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import threading
from pathlib import Path
from typing import Any, BinaryIO

from conftest import Clock, PodMaker

from indexer.agent.render import input_for
from indexer.agent.rotate import rotate_file
from indexer.agent.settings import AgentSettings

Key = tuple[int, int]


class InodeReader:
    """A filestream harvester driven only by the rendered input's options: it finds files with
    the stdlib's `glob` (Go's filepath.Glob semantics) minus the `exclude_files` regexes, keys
    them by the rendered file identity, and closes a file renamed or removed out of the scanned
    paths only when `close.on_state_change.renamed` / `.removed` say so."""

    def __init__(self, rendered: dict[str, Any], log_dir: Path) -> None:
        native = "file_identity.native" in rendered
        if not native or rendered.get("prospector.scanner.fingerprint.enabled", True):
            raise AssertionError("this reader models only the native (device, inode) identity")
        self._paths: list[str] = rendered["paths"]
        self._excluded = [
            re.compile(p) for p in rendered.get("prospector.scanner.exclude_files", [])
        ]
        self._close_renamed = bool(rendered["close.on_state_change.renamed"])
        self._close_removed = bool(rendered["close.on_state_change.removed"])
        self._log_dir = log_dir
        self._open: dict[Key, tuple[BinaryIO, bytearray, str]] = {}
        self._closed: dict[Key, tuple[int, int]] = {}
        self.lines: list[int] = []

    def _scanned(self) -> dict[Key, str]:
        found: dict[Key, str] = {}
        for pattern in self._paths:
            for name in glob.glob(pattern):
                if any(regex.search(name) for regex in self._excluded):
                    continue
                with contextlib.suppress(FileNotFoundError):
                    info = os.stat(name)
                    found[(info.st_dev, info.st_ino)] = name
        return found

    def scan(self) -> None:
        scanned = self._scanned()
        for key in list(self._open):
            file, _, name = self._open[key]
            if scanned.get(key) == name:
                continue
            removed = os.fstat(file.fileno()).st_nlink == 0
            if self._close_removed if removed else self._close_renamed:
                # Stopped unread: filebeat keeps the offset of the last whole line it sent, and
                # starts a harvester again only on a write event (the size changed since).
                offset = file.tell() - len(self._open[key][1])
                self._closed[key] = (offset, os.fstat(file.fileno()).st_size)
                file.close()
                del self._open[key]
            elif key in scanned:
                self._open[key] = (file, self._open[key][1], scanned[key])
        for key, name in scanned.items():
            if key in self._open:
                continue
            if key in self._closed and os.stat(name).st_size <= self._closed[key][1]:
                continue  # a closed file is harvested again only when it grows
            try:
                file = open(name, "rb")  # noqa: SIM115 - held open across scans
            except FileNotFoundError:
                continue
            info = os.fstat(file.fileno())
            if (info.st_dev, info.st_ino) != key:
                file.close()  # replaced between stat and open: the next scan finds it
                continue
            file.seek(self._closed.pop(key, (0, 0))[0])
            self._open[key] = (file, bytearray(), name)
        self.read()

    def read(self) -> None:
        for key in self._open:
            self._read_one(key)

    def _read_one(self, key: Key) -> None:
        file, partial, _ = self._open[key]
        partial.extend(file.read())
        *complete, rest = partial.split(b"\n")
        self.lines += [int(line) for line in complete]
        partial[:] = rest

    def close(self) -> None:
        for file, _, _ in self._open.values():
            file.close()


def _write_until(path: Path, stop: threading.Event, written: list[int]) -> None:
    """Append numbered lines; reopen whenever the path names another inode (or none)."""
    file = None
    number = 0
    while not stop.is_set() or number < 2000:
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = -1
        if file is None or os.fstat(file.fileno()).st_ino != current:
            if file is not None:
                file.close()
            file = open(path, "a")  # noqa: SIM115 - reopened after each rotation
        file.write(f"{number}\n")
        file.flush()
        number += 1
    assert file is not None
    file.close()
    written.append(number)


def test_a_continuous_writer_and_an_inode_following_reader_see_every_line_once_across_rotations(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock
) -> None:
    log_dir = make_pod("prod", "web", "web-0")
    path = log_dir / "app.log"
    path.touch()
    reader = InodeReader(input_for(settings, "prod", "web"), log_dir)
    stop = threading.Event()
    written: list[int] = []
    writer = threading.Thread(target=_write_until, args=(path, stop, written))
    writer.start()
    rotations = 0
    try:
        while rotations < 40:
            reader.scan()
            if rotate_file(path, "rename", clock()) is not None:
                rotations += 1
            clock.advance(1)
            reader.scan()
    finally:
        stop.set()
        writer.join()
    reader.scan()
    reader.scan()
    reader.close()
    assert rotations == 40 and len(os.listdir(log_dir)) == 41
    assert sorted(reader.lines) == list(range(written[0]))
    assert len(reader.lines) == written[0]
