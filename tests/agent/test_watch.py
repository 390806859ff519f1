"""The agent loop with real inotify: bursts settle into matching inputs; lost events heal."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PodMaker

from indexer.agent.render import file_name
from indexer.agent.run import Agent
from indexer.agent.settings import AgentSettings
from indexer.agent.watch import Change, Watcher


@pytest.fixture
def agent(settings: AgentSettings) -> Iterator[Agent]:
    running = Agent(settings)
    yield running
    running.watcher.close()


def _drive(agent: Agent, done: Callable[[], bool], seconds: float = 10.0) -> float:
    """Step the agent until `done()`; how long that took."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < seconds, "agent did not converge"
        agent.step()
    return time.monotonic() - started


def _in_step(settings: AgentSettings) -> Callable[[], bool]:
    def done() -> bool:
        tree = {
            file_name(ns, app)
            for ns in os.listdir(settings.logs_root)
            for app in os.listdir(settings.logs_root / ns)
        }
        return (
            tree == set(os.listdir(settings.inputs_dir)) if settings.inputs_dir.exists() else False
        )

    return done


def test_hundreds_of_apps_and_pods_appearing_and_vanishing_in_bursts_settle_into_matching_inputs(
    agent: Agent, settings: AgentSettings, make_pod: PodMaker
) -> None:
    agent.step()
    for i in range(120):
        make_pod(f"ns-{i % 4}", f"app-{i}", "pod-a")
        make_pod(f"ns-{i % 4}", f"app-{i}", "pod-b")
    _drive(agent, _in_step(settings))
    assert len(os.listdir(settings.inputs_dir)) == 120
    for i in range(0, 120, 2):
        shutil.rmtree(settings.logs_root / f"ns-{i % 4}" / f"app-{i}")
    shutil.rmtree(settings.logs_root / "ns-1")
    for i in range(120, 220):
        make_pod(f"ns-{i % 5}", f"app-{i}", "pod-a")
    _drive(agent, _in_step(settings))
    assert len(os.listdir(settings.inputs_dir)) == 120 - 60 - 30 + 100
    assert agent.reconciles["event"] >= 2
    assert agent.reconciles["periodic"] == 1  # the one at start: events alone did the rest


def test_changes_the_watcher_never_reports_are_healed_by_the_periodic_reconcile(
    settings: AgentSettings, make_pod: PodMaker, tmp_path: Path
) -> None:
    (tmp_path / "deaf").mkdir()
    fast = settings.model_copy(update={"reconcile_interval_seconds": 0.3})
    agent = Agent(fast, watcher=Watcher(tmp_path / "deaf"))
    agent.step()
    for i in range(50):
        make_pod("prod", f"app-{i}", "pod-a")
    _drive(agent, _in_step(settings))
    agent.watcher.close()
    # The one at start, then the first periodic one healed everything (by count, not by the
    # clock: how long that takes depends on the machine's load).
    assert agent.reconciles["event"] == 0 and agent.reconciles["periodic"] == 2


def test_a_kernel_queue_overflow_triggers_an_immediate_full_reconcile(
    agent: Agent, settings: AgentSettings, make_pod: PodMaker
) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}: too many events to overflow quickly")
    agent.step()
    make_pod("prod", "web", "web-0")
    for i in range(limit + 10):
        (settings.logs_root / f".noise-{i}").touch()
    agent.step()
    assert agent.reconciles["resync"] == 1
    assert os.listdir(settings.inputs_dir) == [file_name("prod", "web")]


def test_an_overflow_event_means_resync_and_a_new_namespace_directory_gets_watched(
    settings: AgentSettings,
) -> None:
    from inotify_simple import Event, flags

    watcher = Watcher(settings.logs_root)
    watcher.sync([])
    assert watcher.interpret([Event(1, flags.Q_OVERFLOW, 0, "")]) is Change.RESYNC
    (settings.logs_root / "prod").mkdir()
    assert watcher.read(1.0) is Change.TREE
    (settings.logs_root / "prod" / "web").mkdir()
    assert watcher.read(1.0) is Change.TREE
    (settings.logs_root / "prod" / "web" / "pod").mkdir()
    assert watcher.read(0.1) is Change.NONE  # pods do not change inputs
    watcher.close()
