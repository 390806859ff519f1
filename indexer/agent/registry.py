"""filebeat's registry, read-only: how far filebeat has read each file, as acknowledged.

filebeat keeps its state in `<path.data>/registry/filebeat` (the memlog store of
`elastic/beats: libbeat/statestore/backend/memlog`): the newest checkpoint `<txid>.json` (a JSON
array of `{"_key": ..., ...value}`) plus `log.json`, pairs of lines `{"op":"set"|"remove","id":N}`
and `{"k": key, "v": value}`; operations with an id at or below the checkpoint's are stale.
A filestream entry's key is `filestream::<input id>::native::<inode>-<device>` and its
`cursor.offset` only moves once the output acknowledged the events (at-least-once), so
`offset >= size` means every byte of the file reached Kafka.

A registry that cannot be read counts as "nothing read": the callers then keep everything. Its
files are opened only when regular (never blocking, indexer.agent.regular), and any content,
however malformed, ends the reading where it stops making sense, as a torn write does.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.agent.regular import open_regular

LOG_FILE = "log.json"
FileKey = tuple[int, int]  # (device, inode), what the `native` file identity uses


@dataclass(frozen=True, slots=True)
class Registry:
    """Acknowledged offsets by (input id, device, inode)."""

    offsets: dict[tuple[str, int, int], int]

    def acked(self, input_id: str, path: Path) -> int | None:
        """The acknowledged offset of the file now at `path` for this input, if known."""
        try:
            info = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return None
        return self.offsets.get((input_id, info.st_dev, info.st_ino))

    def finished(self, input_id: str, path: Path) -> bool:
        """Whether filebeat has read and shipped `path` to its current end."""
        try:
            size = os.stat(path, follow_symlinks=False).st_size
        except FileNotFoundError:
            return True
        offset = self.acked(input_id, path)
        return size == 0 or (offset is not None and offset >= size)


def load(registry_dir: Path) -> Registry:
    """The registry as it is on disk now (empty when missing or unreadable)."""
    entries: dict[str, Any] = {}
    txid = _load_checkpoint(registry_dir, entries)
    with contextlib.suppress(OSError, ValueError):  # not UTF-8: what was read before counts
        _apply_log(registry_dir / LOG_FILE, txid, entries)
    return _offsets(entries)


def _offsets(entries: dict[str, Any]) -> Registry:
    offsets = {}
    for key, value in entries.items():
        parsed = _native_key(key)
        offset = _offset(value)
        if parsed is not None and offset is not None:
            offsets[parsed] = offset
    return Registry(offsets)


def _load_checkpoint(registry_dir: Path, entries: dict[str, Any]) -> int:
    try:
        names = os.listdir(registry_dir)
    except OSError:
        return -1
    checkpoints = sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())
    for txid in reversed(checkpoints):  # the newest readable one, as filebeat does
        try:
            states = json.loads(_read(registry_dir / f"{txid}.json"))
        except (OSError, ValueError, RecursionError):
            continue
        for state in states if isinstance(states, list) else []:
            if isinstance(state, dict) and isinstance(state.get("_key"), str):
                entries[state.pop("_key")] = state
        return txid
    return -1


def _apply_log(path: Path, txid: int, entries: dict[str, Any]) -> None:
    lines = iter(_read(path).splitlines())
    for header in lines:
        body = next(lines, None)
        try:
            action, op = json.loads(header), json.loads(body or "")
        except (ValueError, RecursionError):
            return  # a torn last write: filebeat stops reading there too
        if not (isinstance(action, dict) and isinstance(op, dict)):
            return
        number = action.get("id", -1)
        if not isinstance(number, int):
            return
        if number <= txid:
            continue
        if action.get("op") == "set" and isinstance(op.get("k"), str):
            entries[op["k"]] = op.get("v")
        elif action.get("op") == "remove":
            entries.pop(str(op.get("k")), None)


def _read(path: Path) -> str:
    """The text of a regular file (UnicodeDecodeError is a ValueError)."""
    with open(open_regular(path), encoding="utf-8") as file:
        return file.read()


def _native_key(key: str) -> tuple[str, int, int] | None:
    parts = key.split("::")
    if len(parts) != 4 or parts[0] != "filestream" or parts[2] != "native":
        return None
    inode, _, device = parts[3].partition("-")
    if not (inode.isdigit() and device.isdigit()):
        return None
    return parts[1], int(device), int(inode)


def _offset(value: Any) -> int | None:
    if not isinstance(value, dict) or value.get("ttl") == 0:
        return None  # ttl 0: marked for removal by clean_removed
    cursor = value.get("cursor")
    offset = cursor.get("offset") if isinstance(cursor, dict) else None
    return offset if isinstance(offset, int) else None
