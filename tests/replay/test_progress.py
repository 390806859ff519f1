"""Replay progress: a line rewritten in place on a real terminal (a pty), structured log lines
otherwise; the figures are the replay's own."""

from __future__ import annotations

import io
import os

import pytest

from indexer.log import configure_logging
from indexer.replay.progress import LOG_SECONDS, TERMINAL_SECONDS, Progress
from indexer.settings import LogSettings
from tests.support import log_events


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_progress_is_one_line_rewritten_with_rate_and_time_left() -> None:
    master, slave = os.openpty()
    clock = Clock()
    with os.fdopen(slave, "w") as terminal:
        progress = Progress("messages", terminal, clock)
        progress.update(10, 1050)  # not due yet: nothing written
        clock.now += TERMINAL_SECONDS
        progress.update(50, 1050, {"filebeat[0]": (50, 1050)})
        clock.now += TERMINAL_SECONDS
        progress.update(100, 1100)
        progress.done()
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the terminal's other end is closed and everything was read
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    text = shown.decode()
    frames = [frame.strip() for frame in text.split("\r") if frame.strip()]
    assert frames == [
        "messages: 50 of 1,050 read, 100/s, about 10 s left",
        "messages: 100 of 1,100 read, 100/s, about 10 s left",
    ], text
    assert text.endswith("\n")


def test_off_a_terminal_progress_is_a_structured_log_line_every_few_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(format="json"))
    clock = Clock()
    progress = Progress("dead letters", io.StringIO(), clock)
    progress.update(5, None)
    clock.now += LOG_SECONDS
    progress.update(400, 1000, {"filebeat[0]": (400, 1000)})
    progress.update(401, 1000)  # not due
    progress.done()
    lines = log_events(capsys.readouterr().err)
    assert [line["event"]["action"] for line in lines] == ["replay_progress"]
    (line,) = lines
    assert (line["unit"], line["read"], line["total"]) == ("dead letters", 400, 1000)
    assert line["per_second"] == 40.0 and line["seconds_left"] == 15
    assert line["partitions"] == {"filebeat[0]": {"position": 400, "end": 1000}}
