"""Helpers for the `indexer logs` tests: a stream indexed through the real indexer, and the
command run as a real process against the bed's proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from indexer.embedded import ServerProcess
from tests.support import (
    IndexerProcess,
    create_topic,
    documents,
    indexer_env,
    produce,
    settled,
    wait_for,
)


def run_logs(
    es_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`indexer logs ARGS` to completion; stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "indexer", "logs", *args],
        env={**os.environ, **logs_env(es_url), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def logs_env(es_url: str) -> dict[str, str]:
    return {"INDEXER_ELASTICSEARCH__HOSTS": json.dumps([es_url]), "INDEXER_LOG__FORMAT": "json"}


def index_through_indexer(
    kafka: ServerProcess, es_url: str, values: Iterable[bytes], log: Path, partitions: int = 2
) -> tuple[IndexerProcess, dict[str, bytes]]:
    """Produce `values` and run the indexer until each is stored; the indexer keeps running."""
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-apps", partitions)
    produced = produce(bootstrap, "filebeat-apps", values, partitions=partitions)
    indexer = IndexerProcess(indexer_env(bootstrap, es_url), log).start()
    wait_until_indexed(indexer, len(produced))
    return indexer, produced


def wait_until_indexed(indexer: IndexerProcess, total: int) -> None:
    wait_for(
        lambda: indexer.metric("indexer_events_indexed_total") >= total and settled(indexer),
        120,
        f"{total} events indexed",
    )


def order_key(source: dict[str, Any]) -> tuple[Any, ...]:
    """The total order `indexer logs` promises, computed here from the stored documents."""
    stamp = datetime.fromisoformat(source["@timestamp"]).timestamp()
    kafka = source["kafka"]
    return (
        round(stamp * 1000),
        source.get("log", {}).get("offset", -1),
        kafka["topic"],
        kafka["partition"],
        kafka["offset"],
    )


def stored_sources(es_url: str) -> list[dict[str, Any]]:
    """Every stored document of the apps' indices, in the promised order."""
    return sorted((source for _, source in documents(es_url).values()), key=order_key)


@dataclass
class Following:
    """`indexer logs ... -f` as a process; its output lines collected by a thread."""

    es_url: str
    args: tuple[str, ...]
    lines: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None

    def start(self) -> Following:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "logs", *self.args],
            env={**os.environ, **logs_env(self.es_url)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_lines(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"indexer logs exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.lines)} of {count} lines after {timeout} s")
            time.sleep(0.1)

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit status and standard error."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise
        return code, self.proc.stderr.read() if self.proc.stderr else ""  # type: ignore[union-attr]
