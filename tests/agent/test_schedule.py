"""Cron slots in a time zone, and a schedule that survives restarts without doubles or skips."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import Clock, PodMaker

from indexer.agent import state
from indexer.agent.maintenance import Maintenance
from indexer.agent.rotate import generations, run_rotation
from indexer.agent.schedule import Schedule
from indexer.agent.settings import AgentSettings, RotateSettings

PARIS = ZoneInfo("Europe/Paris")


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def _hourly(settings: AgentSettings) -> AgentSettings:
    rules = RotateSettings(
        schedule="0 * * * *", timezone="Europe/Paris", max_size_bytes=None, max_age_seconds=None
    )
    return settings.model_copy(update={"rotate": rules})


def test_slots_are_read_in_the_configured_time_zone() -> None:
    daily = Schedule("30 2 * * *", "Europe/Paris")
    # fixed on purpose: a pure function of the clock it is given
    assert daily.latest_slot(_at("2024-06-02T02:30:00")) == _at("2024-06-02T02:30:00")
    assert daily.latest_slot(_at("2024-06-02T02:29:59")) == _at("2024-06-01T02:30:00")
    assert daily.next_slot(_at("2024-06-02T02:30:00")) == _at("2024-06-03T02:30:00")
    assert daily.due(_at("2024-06-01T02:30:00"), _at("2024-06-03T09:00:00")) == _at(
        "2024-06-03T02:30:00"
    )


def test_the_first_start_rotates_nothing_and_the_next_slot_rotates_once(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    clock = Clock(_at("2024-06-01T10:20:00"))
    path = make_pod("prod", "web", "web-0", "app.log") / "app.log"
    agent = Maintenance(_hourly(settings), clock)
    assert agent.due() is None
    clock.advance(40 * 60)
    assert agent.due() == _at("2024-06-01T11:00:00")
    assert agent.tick()
    agent.wait()
    assert agent.due() is None and not agent.tick()
    assert len(generations(path)) == 1
    agent.close()


def test_a_restart_in_the_middle_of_a_schedule_neither_rotates_twice_nor_skips_a_due_run(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    hourly = _hourly(settings)
    clock = Clock(_at("2024-06-01T10:59:00"))
    path = make_pod("prod", "web", "web-0", "app.log") / "app.log"
    Maintenance(hourly, clock).close()
    clock.advance(120)  # 11:01: the 11:00 run happens, then the agent restarts
    first = Maintenance(hourly, clock)
    assert first.tick()
    first.close()
    path.write_text("more\n")
    restarted = Maintenance(hourly, clock)
    assert restarted.due() is None and not restarted.tick()
    restarted.close()
    assert len(generations(path)) == 1
    clock.advance(3 * 3600)  # down from 11:01 to 14:01: 12:00, 13:00, 14:00 missed
    late = Maintenance(hourly, clock)
    assert late.due() == _at("2024-06-01T14:00:00")
    assert late.tick()
    late.wait()
    assert not late.tick()
    late.close()
    assert len(generations(path)) == 2


def test_a_run_interrupted_before_saving_its_slot_does_not_rotate_a_file_twice_when_redone(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    hourly = _hourly(settings)
    clock = Clock(_at("2024-06-01T10:59:00"))
    log_dir = make_pod("prod", "web", "web-0", "a.log", "b.log")
    Maintenance(hourly, clock).close()
    clock.advance(120)
    slot = _at("2024-06-01T11:00:00")
    saved = state.load(hourly.state_dir)
    run_rotation(hourly.logs_root, hourly.rotate, saved, clock, slot, lambda _: True)  # no save
    (log_dir / "a.log").write_text("written after the crash\n")
    restarted = Maintenance(hourly, clock)
    assert restarted.due() == slot
    report = restarted.run(slot)
    restarted.close()
    assert report is not None and report.rotated == []
    assert sorted(os.listdir(log_dir)) == [
        "a.log",
        "a.log.20240601T090100Z",
        "b.log",
        "b.log.20240601T090100Z",
    ]
    assert state.load(hourly.state_dir).last_slot == slot


def test_the_state_lives_in_the_state_directory_and_survives_a_corrupt_file(
    settings: AgentSettings, tmp_path: Path
) -> None:
    state.save(settings.state_dir, state.RotationState(last_slot=5.0, first_seen={"/x": 1.0}))
    assert state.load(settings.state_dir) == state.RotationState(5.0, {"/x": 1.0})
    (settings.state_dir / state.STATE_FILE).write_text("{not json")
    assert state.load(settings.state_dir) == state.RotationState()
