"""Rotation of files in pod log directories: ownership, generations, compression, refusals."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from conftest import Clock, PodMaker

from indexer.agent.compress import Compressor
from indexer.agent.rotate import RunReport, generations, rotate_file, run_rotation
from indexer.agent.settings import AgentSettings, RotateSettings
from indexer.agent.state import RotationState

EVERY_RUN = RotateSettings(max_size_bytes=None, max_age_seconds=None, keep=3)


def ALL_READ(path: Path) -> bool:  # noqa: N802 - a constant-like predicate
    return True


def _run(settings: AgentSettings, rules: RotateSettings, clock: Clock) -> RunReport:
    """One unscheduled run, compressing what it queued, then one second later."""
    report = run_rotation(settings.logs_root, rules, RotationState(), clock, None, ALL_READ)
    compressor = Compressor()
    for path in report.compress:
        compressor.submit(path)
    compressor.close()
    clock.advance(1)
    return report


@pytest.mark.parametrize("strategy", ["rename", "copytruncate"])
def test_rotating_a_file_of_another_user_keeps_owner_group_and_mode_on_both_files(
    strategy: str, make_pod: PodMaker, clock: Clock
) -> None:
    path = make_pod("prod", "web", "web-0", "app.log") / "app.log"
    os.chown(path, 1234, 5678)
    path.chmod(0o640)
    target = rotate_file(path, strategy, clock())
    assert target is not None and target.name == "app.log.20240310T093000Z"
    assert target.read_text() == "app.log line\n" and path.read_text() == ""
    for each in (path, target):
        info = each.stat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (1234, 5678, 0o640)
    assert sorted(os.listdir(path.parent)) == ["app.log", "app.log.20240310T093000Z"]


def test_only_n_generations_are_kept_and_older_ones_are_compressed_one_run_later(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock
) -> None:
    log_dir = make_pod("prod", "web", "web-0")
    path = log_dir / "app.log"
    for run in range(5):
        path.write_text(f"run {run}\n")
        os.chown(path, 1234, 5678)
        report = _run(settings, EVERY_RUN, clock)
        assert len(report.rotated) == 1
        kept = generations(path)
        assert not kept[0].compressed, "the newest generation waits one run"
        assert all(g.compressed for g in kept[1:])
    kept = generations(path)
    assert len(kept) == 3
    assert gzip.decompress(kept[1].path.read_bytes()) == b"run 3\n"
    assert kept[1].path.stat().st_uid == 1234
    assert [g.path.name for g in kept] == sorted((g.path.name for g in kept), reverse=True)


def test_empty_files_are_not_rotated(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock
) -> None:
    path = make_pod("prod", "web", "web-0") / "app.log"
    path.touch()
    assert _run(settings, EVERY_RUN, clock).rotated == []
    assert os.listdir(path.parent) == ["app.log"]


def test_symlinks_are_refused_and_their_targets_left_alone(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.log"
    secret.write_text("not yours\n")
    log_dir = make_pod("prod", "web", "web-0")
    (log_dir / "app.log").symlink_to(secret)
    (settings.logs_root / "prod" / "linked").symlink_to(log_dir.parent.parent)
    assert _run(settings, EVERY_RUN, clock).rotated == []
    assert rotate_file(log_dir / "app.log", "rename", clock()) is None
    assert secret.read_text() == "not yours\n"
    assert sorted(os.listdir(log_dir)) == ["app.log"]


def test_s6_log_files_and_subdirectories_of_log_are_never_touched(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock
) -> None:
    s6_names = ["current", "@400000006543a1b20c0ffee0.s", "lock", "state", "previous"]
    log_dir = make_pod("prod", "web", "web-0", *s6_names)
    nested = log_dir / "s6"
    nested.mkdir()
    (nested / "x.log").write_text("nested\n")
    before = sorted(os.listdir(log_dir))
    assert _run(settings, EVERY_RUN, clock).rotated == []
    assert sorted(os.listdir(log_dir)) == before and os.listdir(nested) == ["x.log"]


def test_size_and_age_rules_pick_which_files_rotate(
    settings: AgentSettings, make_pod: PodMaker, clock: Clock
) -> None:
    log_dir = make_pod("prod", "web", "web-0", "small.log")
    (log_dir / "big.log").write_text("x" * 2048)
    rules = RotateSettings(max_size_bytes=1024, max_age_seconds=3600)
    state = RotationState()
    rotated = run_rotation(settings.logs_root, rules, state, clock, None, ALL_READ).rotated
    assert [p.name for p in rotated] == ["big.log.20240310T093000Z"]
    assert str(log_dir / "small.log") in state.first_seen
    clock.advance(3600)
    rotated = run_rotation(settings.logs_root, rules, state, clock, None, ALL_READ).rotated
    assert [p.name for p in rotated] == ["small.log.20240310T103000Z"]


def test_two_rotations_within_one_second_get_distinct_sortable_names(
    make_pod: PodMaker, clock: Clock
) -> None:
    path = make_pod("prod", "web", "web-0", "app.log") / "app.log"
    first = rotate_file(path, "rename", clock())
    path.write_text("again\n")
    second = rotate_file(path, "rename", clock())
    assert first is not None and second is not None
    assert first.name < second.name


def test_copytruncate_keeps_the_same_inode_for_a_writer_that_never_reopens(
    make_pod: PodMaker, clock: Clock
) -> None:
    path = make_pod("prod", "web", "web-0") / "app.log"
    with open(path, "a") as writer:
        writer.write("before\n")
        writer.flush()
        inode = path.stat().st_ino
        target = rotate_file(path, "copytruncate", clock())
        writer.write("after\n")
    assert target is not None and target.read_text() == "before\n"
    assert path.stat().st_ino == inode
    assert path.read_text().endswith("after\n")
