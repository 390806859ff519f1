"""A wrong hostPath does not go unnoticed: the running agent warns once about a missing logs
root or filebeat registry directory (naming the setting and the path), shows and counts it on
/metrics, is not ready without its logs root, and says when a directory is back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from indexer.agent.settings import AgentSettings
from tests.support import log_events

LOGS_ROOT = "INDEXER_AGENT__LOGS_ROOT"
REGISTRY_DIR = "INDEXER_AGENT__FILEBEAT__REGISTRY_DIR"


class RunningAgent:
    def __init__(self, settings: AgentSettings, registry_dir: Path, log_path: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log_path = log_path
        env = {
            **os.environ,
            LOGS_ROOT: str(settings.logs_root),
            "INDEXER_AGENT__INPUTS_DIR": str(settings.inputs_dir),
            "INDEXER_AGENT__STATE_DIR": str(settings.state_dir),
            REGISTRY_DIR: str(registry_dir),
            "INDEXER_AGENT__STATUS_INTERVAL_SECONDS": "0.2",
            "INDEXER_AGENT__METRICS__HOST": "127.0.0.1",
            "INDEXER_AGENT__METRICS__PORT": str(self.port),
            "INDEXER_LOG__FORMAT": "json",
        }
        with log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "indexer", "agent", "run"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), r.read().decode().strip()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode().strip()
        except OSError:
            return 0, ""

    def metric(self, sample: str) -> float | None:
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def events(self, name: str) -> list[dict[str, object]]:
        return log_events(self.log_path.read_text(errors="replace"), name)

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"the agent exited: {self.log_path.read_text()}"
            assert time.monotonic() < deadline, f"never: {what}"
            time.sleep(0.1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[AgentSettings, Path], RunningAgent]]:
    started: list[RunningAgent] = []

    def run(settings: AgentSettings, registry_dir: Path) -> RunningAgent:
        for _ in range(3):  # the free port found may be taken before the agent binds it
            agent = RunningAgent(settings, registry_dir, tmp_path / f"agent{len(started)}.log")
            started.append(agent)
            while agent.proc.poll() is None and agent.get("/healthz")[0] != 200:
                time.sleep(0.1)
            if agent.proc.poll() is None:
                return agent
        raise AssertionError(f"the agent never listened: {agent.log_path.read_text()}")

    yield run
    for agent in started:
        if agent.proc.poll() is None:
            agent.proc.kill()
            agent.proc.wait()


def _missing(setting: str) -> str:
    return f'indexer_agent_path_missing{{setting="{setting}"}}'


def test_a_missing_logs_root_is_warned_once_counted_and_fails_readiness_until_it_exists(
    settings: AgentSettings, tmp_path: Path, start: Callable[[AgentSettings, Path], RunningAgent]
) -> None:
    root = tmp_path / "wrong-hostpath"
    registry = tmp_path / "registry"
    registry.mkdir()
    agent = start(settings.model_copy(update={"logs_root": root}), registry)
    agent.wait(lambda: agent.metric(_missing(LOGS_ROOT)) == 1, "the gauge")
    status, reason = agent.get("/readyz")
    assert status == 503
    assert reason == f"the logs root {root} ({LOGS_ROOT}) is not a directory"
    assert agent.get("/healthz")[0] == 200  # alive: restarting would not help
    assert agent.metric(_missing(REGISTRY_DIR)) == 0
    time.sleep(1)  # several checks (every 0.2 s) find it missing: counted and warned once
    counted = f'indexer_agent_missing_directory_total{{setting="{LOGS_ROOT}"}}'
    assert agent.metric(counted) == 1
    (warned,) = agent.events("agent.path_missing")
    assert (warned["setting"], warned["path"], warned["log.level"]) == (
        LOGS_ROOT,
        str(root),
        "warning",
    )
    assert "hostPath" in str(warned["message"])

    root.mkdir()
    agent.wait(lambda: agent.get("/readyz")[0] == 200, "ready once the root exists")
    agent.wait(lambda: bool(agent.events("agent.path_found")), "the all-clear")
    assert agent.metric(_missing(LOGS_ROOT)) == 0
    assert agent.stop() == 0


def test_a_missing_registry_directory_is_warned_and_counted_but_the_agent_stays_ready(
    settings: AgentSettings, tmp_path: Path, start: Callable[[AgentSettings, Path], RunningAgent]
) -> None:
    registry = tmp_path / "filebeat-data" / "registry" / "filebeat"  # filebeat not started yet
    agent = start(settings, registry)
    agent.wait(lambda: agent.metric(_missing(REGISTRY_DIR)) == 1, "the gauge")
    assert agent.get("/readyz") == (200, "ok")
    (warned,) = agent.events("agent.path_missing")
    assert (warned["setting"], warned["path"]) == (REGISTRY_DIR, str(registry))
    assert "filebeat's first start" in str(warned["message"])

    registry.mkdir(parents=True)  # filebeat wrote its registry
    agent.wait(lambda: agent.metric(_missing(REGISTRY_DIR)) == 0, "the gauge back to 0")
    (found,) = agent.events("agent.path_found")
    assert found["setting"] == REGISTRY_DIR
    assert agent.stop() == 0
