"""Temp log trees and agent settings pointing into them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from indexer.agent.settings import AgentSettings


class Clock:
    """A settable clock (Unix or monotonic seconds) to inject where time matters."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def settings(tmp_path: Path) -> AgentSettings:
    (tmp_path / "logs").mkdir()
    return AgentSettings(
        logs_root=tmp_path / "logs",
        inputs_dir=tmp_path / "inputs.d",
        state_dir=tmp_path / "state",
        settle_seconds=0.05,
        reconcile_interval_seconds=30,
        removal_grace_seconds=0,
    )


PodMaker = Callable[..., Path]


@pytest.fixture
def make_pod(settings: AgentSettings) -> PodMaker:
    """`make_pod(ns, app, pod, *files)` creates `<logs>/<ns>/<app>/<pod>/log/` with one-line
    files, and returns that log directory."""

    def make(namespace: str, app: str, pod: str, *files: str) -> Path:
        log_dir = settings.logs_root / namespace / app / pod / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        for name in files:
            (log_dir / name).write_text(f"{name} line\n")
        return log_dir

    return make


@pytest.fixture
def clock() -> Clock:
    """A wall clock frozen at 2024-03-10 09:30 UTC until advanced."""
    return Clock(1710063000.0)
