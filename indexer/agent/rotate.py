"""Rotate the log files of pod `log/` directories: by size and/or age, N generations kept.

A generation is `<file>.<YYYYmmddTHHMMSSZ>` (UTC, so names sort by time), later `….gz`. The
newest generation's name is the file's last rotation time, which makes a rerun of the same slot
after a crash a no-op. Uncompressed generations stay in filebeat's `paths`; a generation is
compressed or deleted only once `read` (filebeat's registry, `indexer.agent.shipped`) says
filebeat has shipped it to its end. Symlinks are never followed, and s6-log's own files, as well as any
subdirectory of `log/` (s6-log's rotation directories), are never touched.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from indexer.agent import metrics, skips
from indexer.agent.regular import open_regular
from indexer.agent.scan import pod_dirs
from indexer.agent.settings import RotateSettings
from indexer.agent.state import RotationState
from indexer.agent.write import fsync_dir

log = structlog.get_logger()

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMP = re.compile(r"^\.(\d{8}T\d{6}Z)(\.gz)?$")
_S6_NAMES = ("current", "previous", "processed", "lock", "state", "@*")


@dataclass(frozen=True, slots=True)
class Generation:
    path: Path
    rotated_at: float
    compressed: bool


@dataclass
class RunReport:
    """What one rotation run did."""

    rotated: list[Path] = field(default_factory=list)
    compress: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)


def log_files(root: Path, include: list[str]) -> Iterator[Path]:
    """Regular files (never symlinks) directly in pod `log/` dirs that rotation may touch.

    A `log` that is not a real directory (a symlink could point anywhere on the host), a `log/`
    that cannot be listed, and entries named like log files that are not regular files are
    skipped and counted (indexer.agent.skips); the other pods are still listed.
    """
    for pod_dir in pod_dirs(root):
        log_dir = pod_dir / "log"
        try:
            if not stat.S_ISDIR(os.lstat(log_dir).st_mode):
                skips.skipped("rotate", skips.WRONG_TYPE, log_dir)
                continue
            entries = list(os.scandir(log_dir))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            skips.skipped("rotate", skips.kind_of(exc), log_dir, exc)
            continue
        for entry in entries:
            if not rotatable(entry.name, include):
                continue
            if _regular(entry):
                yield Path(entry.path)
            else:
                skips.skipped("rotate", skips.WRONG_TYPE, entry.path)


def _regular(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def rotatable(name: str, include: list[str]) -> bool:
    """Whether a basename is one we rotate: matches `include`, is not s6-log's nor hidden."""
    if name.startswith(".") or any(fnmatch.fnmatchcase(name, p) for p in _S6_NAMES):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in include)


def generations(path: Path) -> list[Generation]:
    """The rotated generations of `path` (regular files only), newest first."""
    return scan_generations(path)[0]


def scan_generations(path: Path) -> tuple[list[Generation], list[tuple[Path, str]]]:
    """The generations of `path`, newest first, and the entries named like one that are not.

    Not a generation, with its kind (indexer.agent.skips): a non-regular entry (a FIFO named
    like one would block the compressor), a name whose stamp is no real time
    (`app.log.00000000T000000Z`). Those are never compressed, deleted or counted as generations.
    """
    found, strays = [], []
    prefix = path.name
    for entry in os.scandir(path.parent):
        name = entry.name
        match = _STAMP.match(name[len(prefix) :]) if name.startswith(prefix) else None
        if not match:
            continue
        where = path.parent / name
        try:
            stamp = datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            strays.append((where, skips.BAD_NAME))
            continue
        if not _regular(entry):
            strays.append((where, skips.WRONG_TYPE))
            continue
        found.append(Generation(where, stamp.timestamp(), bool(match.group(2))))
    found.sort(key=lambda g: (g.rotated_at, not g.compressed), reverse=True)
    return found, strays


ReadToEnd = Callable[[Path], bool]


def run_rotation(
    root: Path,
    settings: RotateSettings,
    state: RotationState,
    now: Callable[[], float],
    slot: float | None,
    read: ReadToEnd,
) -> RunReport:
    """One pass over every log file; `slot` is the schedule slot (None for `rotate --now`).

    Generations of earlier runs that `read` says filebeat has finished are listed in `compress`;
    the caller hands them to the background compressor. Generations beyond `keep` are deleted
    only when compressed or finished. `state.first_seen` is replaced by this pass's sightings.

    Each file is handled on its own: whatever one raises (it vanished, it is not a regular file,
    a bug) is counted and logged once (indexer.agent.skips), and the pass goes on; a file that
    vanished is not a failure, any other error lists it in `failed`.
    """
    run = _Run(settings, state, now, slot, read)
    for path in log_files(root, settings.include):
        try:
            run.one(path)
        except Exception as exc:
            kind = skips.kind_of(exc)
            if kind != skips.VANISHED:
                run.report.failed.append(path)
            skips.skipped("rotate", kind, path, exc)
    state.first_seen = run.seen
    return run.report


@dataclass
class _Run:
    settings: RotateSettings
    state: RotationState
    now: Callable[[], float]
    slot: float | None
    read: ReadToEnd
    report: RunReport = field(default_factory=RunReport)
    seen: dict[str, float] = field(default_factory=dict)

    def one(self, path: Path) -> None:
        older, strays = scan_generations(path)
        for stray, kind in strays:
            skips.skipped("rotate", kind, stray)
        reference = self.slot if self.slot is not None else self.now()
        if self.settings.compress:
            # Generations of earlier runs only (a reopening writer may still have written to the
            # old inode right after the rename), and only once filebeat has read them to the end.
            self.report.compress += [
                g.path
                for g in older
                if not g.compressed and g.rotated_at < reference and self.read(g.path)
            ]
        last = older[0].rotated_at if older else self.state.first_seen.get(str(path), reference)
        if not older:
            self.seen[str(path)] = last
        elif self.slot is not None and last >= self.slot:
            return  # this slot already rotated it (a run interrupted and restarted)
        if not _due(os.lstat(path).st_size, reference - last, self.settings):
            return
        target = rotate_file(path, self.settings.strategy, self.now())
        if target is None:
            return
        self.report.rotated.append(target)
        metrics.ROTATIONS.labels(self.settings.strategy).inc()
        for old in generations(path)[self.settings.keep :]:
            if not (old.compressed or self.read(old.path)):
                log.warning("agent.generation_kept_unread", path=str(old.path))
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(old.path)
                self.report.deleted.append(old.path)


def _due(size: int, age: float, rules: RotateSettings) -> bool:
    """Size and age rules are alternatives; with neither set, every non-empty file is due."""
    if size == 0:
        return False
    by_size = rules.max_size_bytes is not None and size >= rules.max_size_bytes
    by_age = rules.max_age_seconds is not None and age >= rules.max_age_seconds
    return by_size or by_age or (rules.max_size_bytes is None and rules.max_age_seconds is None)


def rotate_file(path: Path, strategy: str, now: float) -> Path | None:
    """Rotate one file now; the generation written, or None when it is empty or not a file."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return None
    target = _free_name(path, now)
    if strategy == "copytruncate":
        _copytruncate(path, target, info)
    else:
        _rename(path, target, info)
    fsync_dir(path.parent)
    log.info("agent.rotated", path=str(path), to=target.name, strategy=strategy)
    return target


def _free_name(path: Path, now: float) -> Path:
    # Two rotations within one second get successive seconds, so names stay unique and sorted.
    stamp = int(now)
    newest = generations(path)
    if newest:
        stamp = max(stamp, int(newest[0].rotated_at) + 1)
    moment = datetime.fromtimestamp(stamp, UTC)
    return path.with_name(f"{path.name}.{moment.strftime(STAMP_FORMAT)}")


def _rename(path: Path, target: Path, info: os.stat_result) -> None:
    # The successor is made (owner, group, mode) before the move and linked in right after, so a
    # reopening writer finds the right file; if the writer created one first, that one stays.
    fresh = path.with_name(f".{path.name}.agent-new")
    _create_like(fresh, info).close()
    try:
        os.rename(path, target)
        with contextlib.suppress(FileExistsError):
            os.link(fresh, path)
    finally:
        os.unlink(fresh)


def _copytruncate(path: Path, target: Path, info: os.stat_result) -> None:
    with (
        open(open_regular(path, os.O_RDWR), "r+b") as src,
        _create_like(target, info) as out,
    ):
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
        # fsync first (slow), then copy what arrived meanwhile and truncate at once: the loss
        # window is only this last read-to-truncate gap (measured, docs/agent.md).
        shutil.copyfileobj(src, out, 1 << 20)
        src.truncate(0)
        out.flush()
        os.fsync(out.fileno())


def _create_like(path: Path, info: os.stat_result) -> io.BufferedWriter:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.fchown(fd, info.st_uid, info.st_gid)
    os.fchmod(fd, info.st_mode & 0o7777)
    return open(fd, "wb")
