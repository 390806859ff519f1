"""How far behind filebeat is, and how full the logs volume is: measured, then set as gauges.

Filebeat's registry (indexer.agent.registry) holds the acknowledged offset of every file it
reads; the files' sizes are on disk. Their difference, over the files the rendered inputs read,
is what filebeat has not yet shipped. Only `lstat`/`statvfs` are used (nothing is opened), and an
entry that cannot be read is left out: rotation counts those (indexer.agent.skips).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.agent import metrics, registry
from indexer.agent.render import covers, input_for, input_id
from indexer.agent.scan import scan
from indexer.agent.settings import AgentSettings


@dataclass(frozen=True, slots=True)
class Status:
    """One measurement. `oldest_unshipped_age` is 0.0 when everything is shipped."""

    unshipped_bytes: int
    unshipped_files: int
    oldest_unshipped_age: float
    logs_bytes: int
    volume_size: int
    volume_used: int
    volume_available: int


def measure(settings: AgentSettings, now: float) -> Status:
    """Walk the logs tree once (symlinks never followed) against one registry snapshot."""
    snapshot = registry.load(settings.filebeat.registry_dir)
    inputs = _Inputs(settings)
    unshipped_bytes = unshipped_files = logs_bytes = 0
    oldest: float | None = None
    root = settings.logs_root
    for parent, _, names in os.walk(root, followlinks=False):
        for name in names:
            path = Path(parent, name)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            logs_bytes += info.st_size
            read = inputs.reading(path)
            if read is None or info.st_size == 0:
                continue
            offset = snapshot.offsets.get((read, info.st_dev, info.st_ino), 0)
            if offset < info.st_size:
                unshipped_bytes += info.st_size - offset
                unshipped_files += 1
                oldest = info.st_mtime if oldest is None else min(oldest, info.st_mtime)
    volume = os.statvfs(root)
    return Status(
        unshipped_bytes=unshipped_bytes,
        unshipped_files=unshipped_files,
        oldest_unshipped_age=max(0.0, now - oldest) if oldest is not None else 0.0,
        logs_bytes=logs_bytes,
        volume_size=volume.f_blocks * volume.f_frsize,
        volume_used=(volume.f_blocks - volume.f_bfree) * volume.f_frsize,
        volume_available=volume.f_bavail * volume.f_frsize,
    )


def publish(status: Status, now: float) -> None:
    """Set the gauges of indexer.agent.metrics from one measurement."""
    metrics.UNSHIPPED_BYTES.set(status.unshipped_bytes)
    metrics.UNSHIPPED_FILES.set(status.unshipped_files)
    metrics.OLDEST_UNSHIPPED.set(status.oldest_unshipped_age)
    metrics.LOGS_BYTES.set(status.logs_bytes)
    metrics.VOLUME_SIZE.set(status.volume_size)
    metrics.VOLUME_USED.set(status.volume_used)
    metrics.VOLUME_AVAILABLE.set(status.volume_available)
    metrics.STATUS_TIMESTAMP.set(now)


class _Inputs:
    """Which input (by id) reads a path, from the rendered inputs of the apps in the tree."""

    def __init__(self, settings: AgentSettings) -> None:
        self._root = settings.logs_root
        self._rendered: dict[tuple[str, str], dict[str, Any] | None] = {}
        for namespace, app in scan(settings.logs_root).apps:
            try:
                self._rendered[(namespace, app)] = input_for(settings, namespace, app)
            except Exception:  # a broken override template: that app's input is not written
                self._rendered[(namespace, app)] = None

    def reading(self, path: Path) -> str | None:
        try:
            parts = path.relative_to(self._root).parts
        except ValueError:
            return None
        if len(parts) < 3:
            return None
        namespace, app = parts[0], parts[1]
        rendered = self._rendered.get((namespace, app))
        if rendered is None or not covers(rendered, str(path)):
            return None
        return input_id(namespace, app)
