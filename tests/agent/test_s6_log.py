"""The base image's s6-log script, run by real s6 (Debian's s6), against the rendered input.

Every line goes through `cat | s6-log` under `s6-svscan`; `Filestream` (filestream_model.py)
follows the files as filebeat would with the rendered input. Sizes are small (`s4096`) so that
a burst of lines rotates `current` several times between two scans.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filestream_model import Filestream
from s6_supervision import PREFIX_BYTES, S6App, s6_app

from indexer.agent.render import covers, input_for
from indexer.agent.settings import AgentSettings

SIZE = 4096
ENV = {"APP_LOG_SIZE": str(SIZE), "APP_LOG_KEEP": "1000"}


@pytest.fixture
def app(settings: AgentSettings, tmp_path: Path) -> Iterator[S6App]:
    logdir = settings.logs_root / "prod" / "web" / "web-0" / "log"
    logdir.parent.mkdir(parents=True)
    with s6_app(tmp_path, logdir, ENV) as running:
        yield running


@pytest.fixture
def rendered(settings: AgentSettings) -> dict[str, Any]:
    return input_for(settings, "prod", "web")


class Lines:
    """Numbered lines, so that the ones read can be checked against the ones written."""

    def __init__(self) -> None:
        self.count = 0

    def next(self, n: int, width: int = 60) -> list[bytes]:
        out = [f"{i:08d} {'x' * width}".encode() for i in range(self.count, self.count + n)]
        self.count += n
        return out


def numbers(messages: list[bytes]) -> Counter[int]:
    return Counter(int(m[PREFIX_BYTES : PREFIX_BYTES + 8]) for m in messages)


def lines_per_rotation() -> int:
    return SIZE // (PREFIX_BYTES + 70)


def test_every_line_is_once_in_current_or_an_archive_and_the_input_reads_exactly_those(
    app: S6App, rendered: dict[str, Any]
) -> None:
    lines = Lines()
    for _ in range(20):
        app.write(lines.next(500))
    app.wait_bytes()
    names = os.listdir(app.logdir)
    archives = [n for n in names if n.startswith("@")]
    assert len(archives) > 50 and "current" in names and {"lock", "state"} <= set(names)
    content = []
    for name in names:
        path = app.logdir / name
        if covers(rendered, str(path)):
            content += path.read_bytes().splitlines()
        else:
            assert name in ("lock", "state"), name
    assert numbers(content) == Counter(range(lines.count))


def _follow(app: S6App, follower: Filestream, lines: Lines, bursts: list[int], now: float) -> float:
    """Write each burst, wait until s6-log has it on disk, then let one check interval pass."""
    for burst in bursts:
        app.write(lines.next(burst))
        app.wait_bytes()
        now += follower.interval
        follower.tick(now)
    return now


BURSTS = [3, 10, 57, 150, 400, 1, 900, 60, 61, 2000, 5] * 3  # within, across, many rotations


def test_a_follower_of_the_rendered_input_reads_every_line_once_across_rotations(
    app: S6App, rendered: dict[str, Any]
) -> None:
    follower = Filestream(rendered)
    lines = Lines()
    now = _follow(app, follower, lines, BURSTS, 0.0)
    now = _follow(app, follower, lines, [0, 0], now)
    follower.stop()
    assert lines.count // lines_per_rotation() > 100
    assert numbers([e.message for e in follower.events]) == Counter(range(lines.count))


def test_a_filebeat_restart_while_s6_log_rotates_loses_and_repeats_nothing(
    app: S6App, rendered: dict[str, Any]
) -> None:
    follower = Filestream(rendered)
    lines = Lines()
    now = _follow(app, follower, lines, [30, 20], 0.0)
    events = follower.events
    for down_for in ([25], [lines_per_rotation() * 3], [lines_per_rotation() + 1, 7]):
        # stopped between two scans: what it had open is rotated away while it is down
        app.write(lines.next(lines_per_rotation() - 10))
        app.wait_bytes()
        follower.stop()
        for burst in down_for:
            app.write(lines.next(burst))
        app.wait_bytes()
        follower = Filestream(rendered, registry=follower.registry)
        follower.events = events
        now = _follow(app, follower, lines, [5, 0, 0], now)
    follower.stop()
    assert numbers([e.message for e in events]) == Counter(range(lines.count))


@pytest.mark.parametrize(
    "change",
    ["archives left out of paths", "close.on_state_change.renamed: true"],
)
def test_the_follower_loses_lines_without_the_rendered_rules(
    app: S6App, rendered: dict[str, Any], change: str
) -> None:
    broken = dict(rendered)
    if change == "archives left out of paths":
        broken["paths"] = [p for p in rendered["paths"] if "@" not in p and "previous" not in p]
    else:
        broken["close.on_state_change.renamed"] = True
    follower = Filestream(broken)
    lines = Lines()
    _follow(app, follower, lines, [lines_per_rotation() * 5 + 3] * 4 + [0], 0.0)
    follower.stop()
    read = numbers([e.message for e in follower.events])
    assert sum(read.values()) < lines.count


def test_without_an_explicit_identity_filebeat_9_never_reads_a_short_jobs_log(
    app: S6App, rendered: dict[str, Any]
) -> None:
    app.write([b"job started", b"job done"])
    app.wait_bytes()
    default = {k: v for k, v in rendered.items() if "file_identity" not in k}
    default.pop("prospector.scanner.fingerprint.enabled")
    on_9_by_default, ours = Filestream(default), Filestream(rendered)
    for now in (0.0, 1.0, 2.0):
        on_9_by_default.tick(now)
        ours.tick(now)
    assert on_9_by_default.events == []
    assert [e.message[PREFIX_BYTES:] for e in ours.events] == [b"job started", b"job done"]
    ours.stop()


def test_a_long_line_reaches_filebeat_cut_and_flagged_never_skipped(
    app: S6App, rendered: dict[str, Any]
) -> None:
    limit = int(rendered["message_max_bytes"])
    app.write([b"{" + b"a" * 300_000 + b"}", b"x" * 2_000_000, b"after"])
    app.wait_bytes()
    follower = Filestream(rendered)
    follower.tick(0.0)
    follower.stop()
    body = {e.message[PREFIX_BYTES : PREFIX_BYTES + 1]: e for e in follower.events}
    json_line = body[b"{"]
    assert json_line.flags == ("truncated",) and len(json_line.message) == limit
    # s6-log's -l split the 2 MB line into pieces filebeat does not skip (4 x limit); each is cut
    pieces = [e for e in follower.events if e.message[PREFIX_BYTES:].startswith(b"xxx")]
    assert len(pieces) == 4 and all(len(e.message) <= limit for e in pieces)
    assert all(e.flags == ("truncated",) for e in pieces)  # 3 x 524000 + 428000, all > limit
    assert body[b"a"].message[PREFIX_BYTES:] == b"after" and body[b"a"].flags == ()


def test_the_pipe_survives_a_restart_of_s6_log_without_losing_a_line(
    app: S6App, rendered: dict[str, Any]
) -> None:
    lines = Lines()
    app.write(lines.next(300))
    app.wait_bytes()
    os.kill(app.logger_pid(), signal.SIGTERM)  # s6-supervise restarts it
    app.write(lines.next(300))
    app.wait_bytes()
    follower = Filestream(rendered)
    follower.tick(0.0)
    follower.stop()
    assert numbers([e.message for e in follower.events]) == Counter(range(lines.count))
