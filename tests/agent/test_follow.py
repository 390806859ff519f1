"""No line lost or duplicated across `rename` rotations, for a reader that follows inodes.

The reader does what filebeat's filestream does with the rendered input: it scans the paths the
input covers, starts each new file (by device and inode) from offset 0, and keeps reading an
open file to its end after it was renamed out of the covered paths.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, BinaryIO

from conftest import Clock, PodMaker

from indexer.agent.render import covers, input_for
from indexer.agent.rotate import rotate_file
from indexer.agent.settings import AgentSettings

Key = tuple[int, int]


class InodeReader:
    def __init__(self, rendered: dict[str, Any], log_dir: Path) -> None:
        self._rendered = rendered
        self._log_dir = log_dir
        self._open: dict[Key, tuple[BinaryIO, bytearray]] = {}
        self.lines: list[int] = []

    def scan(self) -> None:
        for name in os.listdir(self._log_dir):
            path = self._log_dir / name
            if not covers(self._rendered, str(path)):
                continue
            try:
                file = open(path, "rb")  # noqa: SIM115 - held open across scans
            except FileNotFoundError:
                continue
            info = os.fstat(file.fileno())
            if (info.st_dev, info.st_ino) in self._open:
                file.close()
            else:
                self._open[(info.st_dev, info.st_ino)] = (file, bytearray())
        self.read()

    def read(self) -> None:
        for file, partial in self._open.values():
            partial.extend(file.read())
            *complete, rest = partial.split(b"\n")
            self.lines += [int(line) for line in complete]
            partial[:] = rest

    def close(self) -> None:
        for file, _ in self._open.values():
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
