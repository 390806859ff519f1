"""Pruning: only pod directories where nothing changed for the retention period go."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import PodMaker

from indexer.agent.prune import prune
from indexer.agent.settings import AgentSettings

DAY = 86400.0


def ALL_READ(path: Path) -> bool:  # noqa: N802 - a constant-like predicate
    return True


def test_a_pod_directory_quiet_for_the_retention_is_removed_and_a_recent_one_kept(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    gone = make_pod("prod", "web", "web-old", "app.log").parent
    live = make_pod("prod", "web", "web-new", "app.log").parent
    later = time.time() + 3 * DAY
    (live / "log" / "app.log").write_text("still writing\n")
    os.utime(live / "log" / "app.log", (later, later))
    assert prune(settings.logs_root, 2 * DAY, later + 1, ALL_READ) == [gone]
    assert not gone.exists() and live.exists()


def test_the_last_pod_of_an_app_takes_the_empty_app_directory_with_it(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    pod_dir = make_pod("prod", "web", "web-0", "app.log").parent
    assert prune(settings.logs_root, DAY, time.time() + 2 * DAY, ALL_READ) == [pod_dir]
    assert not (settings.logs_root / "prod" / "web").exists()
    assert (settings.logs_root / "prod").exists()


def test_nothing_is_removed_before_the_retention_has_passed(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0", "app.log")
    assert prune(settings.logs_root, DAY, time.time() + DAY / 2, ALL_READ) == []
