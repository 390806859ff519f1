"""Real s6 for tests: `s6-svscan` supervising an app whose stdout s6 pipes into the base image's
s6-log script (`deploy/app-base/.../app-log/run`), with smaller sizes for speed.

The app is `cat` of a FIFO the test writes into, so the test decides when lines arrive. s6-svscan
holds the pipe between the app and its logger, as s6-rc's pipelines do in the image.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOG_RUN = REPO / "deploy/app-base/rootfs/etc/s6-overlay/s6-rc.d/app-log/run"
PREFIX_BYTES = 31  # `T`: "YYYY-MM-DD HH:MM:SS.nnnnnnnnn  "


def log_script(env: dict[str, str], logdir: Path) -> list[str]:
    """The s6-log arguments of the base image's run script, `${VAR:-default}` expanded with
    `env`, the log directory replaced by `logdir`."""
    (command,) = [line for line in LOG_RUN.read_text().splitlines() if line.startswith("exec ")]
    words = command.replace('"', "").split()
    args = words[words.index("s6-log") + 1 :]

    def expand(match: re.Match[str]) -> str:
        return env.get(match.group(1), match.group(2))

    args = [re.sub(r"\$\{(\w+):-([^}]*)\}", expand, word) for word in args]
    args = [a for a in args if not a.startswith("-d")]  # no readiness fd outside s6-rc
    assert args[-1] == "/var/log/app"
    return [*args[:-1], str(logdir)]


class S6App:
    """A supervised `cat fifo | s6-log ...`; `write()` feeds lines, `wait_bytes()` waits for them."""

    def __init__(self, root: Path, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.scandir = root / "scan"
        service = self.scandir / "app"
        (service / "log").mkdir(parents=True)
        self.fifo = root / "stdin.fifo"
        os.mkfifo(self.fifo)
        _script(service / "run", f"exec cat {self.fifo}")
        _script(service / "log" / "run", "exec s6-log " + " ".join(log_script(env, logdir)))
        self._svscan = subprocess.Popen(
            ["s6-svscan", str(self.scandir)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._writer = _open_writer(self.fifo, timeout=20.0)
        self.written = 0  # bytes s6-log will have written (lines plus their prefixes)

    def write(self, lines: list[bytes]) -> None:
        data = memoryview(b"".join(line + b"\n" for line in lines))
        while data:
            data = data[os.write(self._writer, data) :]
        self.written += sum(PREFIX_BYTES + len(line) + 1 for line in lines)

    def on_disk(self) -> int:
        total = 0
        if not self.logdir.is_dir():
            return 0  # s6-log creates it when it starts
        for name in os.listdir(self.logdir):
            if name in {"current", "previous"} or name.startswith("@"):
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(self.logdir / name).st_size
        return total

    def wait_bytes(self, timeout: float = 30.0) -> None:
        """Until s6-log has written everything fed so far and finished its rotation (bounded).

        A scan in the microseconds of a rotation can see `previous` and then find it gone when
        its harvester opens it; filestream starts no harvester on the rename that follows
        (docs/agent.md, "What the tests do not prove"). The tests scan settled directories.
        """
        deadline = time.monotonic() + timeout
        while self.on_disk() < self.written or (self.logdir / "previous").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"s6-log wrote {self.on_disk()} of {self.written} bytes")
            time.sleep(0.01)
        time.sleep(0.02)  # the archive's link and the unlink of `previous` are not atomic

    def logger_pid(self) -> int:
        out = subprocess.run(
            ["s6-svstat", "-p", str(self.scandir / "app" / "log")],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return int(out.stdout.strip())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._writer)
        for service in (self.scandir / "app", self.scandir / "app" / "log"):
            subprocess.run(["s6-svc", "-dx", str(service)], timeout=10, check=False)
        subprocess.run(["s6-svscanctl", "-t", str(self.scandir)], timeout=10, check=False)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._svscan.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._svscan.pid, signal.SIGKILL)  # whatever is left of its session
        self._svscan.wait(timeout=10)


@contextlib.contextmanager
def s6_app(root: Path, logdir: Path, env: dict[str, str]) -> Iterator[S6App]:
    if shutil.which("s6-svscan") is None or shutil.which("s6-log") is None:
        raise RuntimeError("s6 is not installed: apt-get install s6 execline (see .ci/run)")
    app = S6App(root, logdir, env)
    try:
        yield app
    finally:
        app.close()


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\nexec 2>&1\n{body}\n")
    path.chmod(0o755)


def _open_writer(fifo: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO until `cat` has it open for reading
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return fd
