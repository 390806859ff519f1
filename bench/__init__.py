"""The throughput and latency benchmark of the indexer (issue 7). Run `python -m bench --help`."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: ours, with the repository importable, plus `extra`."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT),
        **(extra or {}),
    }
