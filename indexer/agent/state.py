"""Rotation state on the host path, so a restarted agent neither rotates twice nor skips a run.

What a file's last rotation was is read from its generations' names; the state file only holds
the last completed schedule slot and when never-rotated files were first seen.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from indexer.agent.write import write_atomic

STATE_FILE = "rotation.json"
LOCK_FILE = "rotation.lock"


@dataclass
class RotationState:
    """`last_slot`: the schedule slot last run (None before the first start)."""

    last_slot: float | None = None
    first_seen: dict[str, float] = field(default_factory=dict)


def load(state_dir: Path) -> RotationState:
    """The saved state, or a fresh one when there is none (or it is unreadable)."""
    try:
        data = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        return RotationState(
            last_slot=data.get("last_slot"), first_seen=dict(data.get("first_seen", {}))
        )
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        return RotationState()


def save(state_dir: Path, state: RotationState) -> None:
    """Write the state atomically (readable by root only)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = json.dumps({"last_slot": state.last_slot, "first_seen": state.first_seen}, indent=1)
    write_atomic(state_dir / STATE_FILE, text, mode=0o600, uid=os.getuid(), gid=os.getgid())


@contextlib.contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """Hold the rotation lock: one rotation run at a time, across threads and processes."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
