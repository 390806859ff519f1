"""Processes for the tests: `indexer run` as a child process (its settings, its log, its
metrics), the CLI run to its end, waiting on a condition, and killing whatever a test left
running."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}

# Which core spawned indexers run (INDEXER_CORE, indexer/core.py). The native one wherever it is
# built, so the end-to-end, fault and exactly-once tests run on it; the tests marked
# `reference_core` run on the Python reference too (tests/conftest.py sets it per test).
NATIVE_BUILT = importlib.util.find_spec("indexer_core") is not None
DEFAULT_CORE = "native" if NATIVE_BUILT else "python"
_spawned_core = {"name": DEFAULT_CORE}


def use_core(name: str) -> None:
    """Spawned indexers of the running test use core `name` (`native` or `python`)."""
    _spawned_core["name"] = name


def spawned_core() -> str:
    """The core spawned indexers of the running test use, unless their env sets INDEXER_CORE."""
    return _spawned_core["name"]


_LIVE: list[IndexerProcess] = []


def stop_leftovers() -> list[str]:
    """Kill every indexer process a test started and did not stop (the conftest fixture calls
    this at teardown, so a failing test leaves nothing running). Returns their log paths."""
    left = []
    while _LIVE:
        process = _LIVE.pop()
        if process.proc is not None and process.proc.poll() is None:
            left.append(str(process.log_path))
            process.kill()
    return left


@dataclass
class IndexerProcess:
    """`python -m indexer run` in a child process, with settings from the environment. It binds
    its metrics server to a port of its own choosing and says which in its `listening` line."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _port: int | None = field(default=None, init=False)

    def start(self) -> IndexerProcess:
        env = {
            **os.environ,
            "INDEXER_METRICS__PORT": "0",
            "INDEXER_CORE": spawned_core(),
            **self.env,
        }
        self._log = self.log_path.open("ab")
        self._offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "run"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        _LIVE.append(self)
        return self

    @property
    def metrics_port(self) -> int:
        """The port of /metrics, /healthz and /readyz, from the process's `listening` line."""
        deadline = time.monotonic() + 30
        while self._port is None:
            own = self.log_path.read_bytes()[self._offset :].decode(errors="replace")
            for line in log_events(own, "listening"):
                self._port = int(line["metrics_port"])
            if self._port is None:
                assert self.proc is not None and self.proc.poll() is None, "the indexer exited"
                assert time.monotonic() < deadline, "the indexer never said where it listens"
                time.sleep(0.05)
        return self._port

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        finally:
            self._log.close()
        return code

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def core(self) -> str | None:
        """The core this process said it runs (its first `started` line), or None before."""
        for line in log_events(self.log_lines(), "started"):
            return str(line.get("core"))
        return None

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def metric_samples(self, name: str) -> dict[str, float]:
        """A per-partition metric's samples, by the `partition` label."""
        import re

        found: dict[str, float] = {}
        for line in self._metrics_text().splitlines():
            if line.startswith(name + "{"):
                partition = re.search(r'partition="(\d+)"', line)
                if partition:
                    found[partition.group(1)] = float(line.rsplit(" ", 1)[1])
        return found

    def _metrics_text(self) -> str:
        import urllib.error
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except urllib.error.URLError:
            assert self.proc is not None and self.proc.poll() is None, "the indexer exited"
            return ""  # not listening yet

    def metric(self, name: str) -> float:
        """Sum of a metric's samples from /metrics (0 when absent)."""
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in self._metrics_text().splitlines()
            if line.startswith(name) and (line[len(name)] in " {")
        )


def indexer_env(bootstrap: str, es_url: str, **extra: str) -> dict[str, str]:
    env = {
        "INDEXER_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "INDEXER_KAFKA__OPTIONS": json.dumps(FAST_GROUP),
        "INDEXER_ELASTICSEARCH__HOSTS": json.dumps([es_url]),
        "INDEXER_LOG__FORMAT": "json",
        "INDEXER_BATCH__MAX_AGE_SECONDS": "0.2",
        "INDEXER_RETRY__MAX_BACKOFF_SECONDS": "1",
        "INDEXER_SHUTDOWN__DRAIN_TIMEOUT_SECONDS": "10",
    }
    env.update(extra)
    return env


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m indexer ARGS…` to its end, with `env` and none of this environment's own
    `INDEXER_*` settings; its output captured as text, its exit status not checked."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INDEXER_")}
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def log_events(lines: str | Iterable[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    """Our own log lines (ECS JSON, indexer/log.py) named `names` (their `event.action`), in
    order; every one of our lines when no name is given. The one reader of our log lines by
    event name. `lines`: a log's text (lines that are not JSON, such as a traceback, are
    skipped) or lines already parsed."""
    if isinstance(lines, str):
        parsed = []
        for raw in lines.splitlines():
            try:
                parsed.append(json.loads(raw))
            except ValueError:
                continue
        lines = parsed
    found = []
    for line in lines:
        event = line.get("event") if isinstance(line, dict) else None
        name = event.get("action") if isinstance(event, dict) else None
        if name is not None and (not names or name in names):
            found.append(line)
    return found
