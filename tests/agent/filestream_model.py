"""A follower that does with a rendered input what filebeat's filestream does with it.

Modelled on elastic/beats `filebeat/input/filestream/` (see /work/shared/NODE-SIDE.md):
- `fswatch.go` (`watch`): each scan globs `paths`, drops `prospector.scanner.exclude_files`,
  and compares with the previous scan: same path and file -> write (size grew) or truncate
  (shrank); a vanished path whose file ID shows up at another scanned path -> rename; otherwise
  delete; new paths -> create. With fingerprint identity, files under `offset+length` bytes are
  not in the scan at all.
- `prospector.go`: create/write start a harvester (no-op when one runs) from the stored offset;
  truncate resets the offset to 0; rename only updates the state's path (and stops the harvester
  when `close.on_state_change.renamed`); delete stops it when `close.on_state_change.removed`
  and drops the state when `clean_removed`. At start (`Init`), with `clean_removed`, states whose
  last path is not in the first scan are dropped.
- harvesters read through their open descriptor, emit complete lines only, skip lines longer than
  4 x `message_max_bytes` and cut longer ones to `message_max_bytes` with `log.flags:
  ["truncated"]` (`libbeat/reader/readfile/line.go`, `limit.go`); they close after
  `close.on_state_change.inactive` without new data. The state's offset is the acknowledged one;
  here every read line counts as acknowledged at once (what `filebeat.shutdown_timeout` buys at a
  restart).

- `parsers: - multiline: {type: pattern}` (`libbeat/reader/multiline/pattern.go`,
  `message_buffer.go`): `pattern` is tested on the new line (`match: after`) or on the last one
  (`before`), inverted by `negate`; a line that passes joins the event in progress, one that
  fails sends it and starts the next; a line matching `flush_pattern` joins and sends it. Lines
  are joined with `\n`; past `max_lines` lines, or `message_max_bytes` bytes, content is dropped
  (the lines still read) and the event flagged `truncated`; two lines or more flag `multiline`.
  `timeout` sends the event when no line came for that long. The event's `log.offset` is the
  start of the last line it read: `FileMetaReader` (`readfile/metafields.go`, before the parsers
  in `filestream/input.go` `open`) gives every line its own `log` fields, and `addLine` copies
  each line's fields over the event's with `mapstr.M.Update`, which does not merge nested maps.
  The registry offset moves past an event only when it is sent (`readFromSource`).

What it cannot prove: anything about filebeat's own code (its timing, output, registry writes),
the copytruncate strategy, or behaviour this model leaves out.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

Identity = str


@dataclass
class State:
    offset: int
    source: str
    removed: bool = False


@dataclass
class Multiline:
    """The `multiline` parser of a rendered input (type `pattern`)."""

    pattern: re.Pattern[bytes]
    negate: bool
    after: bool
    flush: re.Pattern[bytes] | None
    max_lines: int
    timeout: float

    @classmethod
    def of(cls, rendered: dict[str, Any]) -> Multiline | None:
        found = [p["multiline"] for p in rendered.get("parsers", []) if "multiline" in p]
        if not found:
            return None
        (config,) = found
        assert config.get("type", "pattern") == "pattern", config
        flush = config.get("flush_pattern")
        return cls(
            pattern=re.compile(config["pattern"].encode()),
            negate=bool(config.get("negate", False)),
            after=config["match"] == "after",
            flush=re.compile(flush.encode()) if flush else None,
            max_lines=int(config.get("max_lines", 500)),
            timeout=duration(config.get("timeout", "5s")),
        )

    def joins(self, last: bytes, current: bytes) -> bool:
        """pattern.go's matcher: `after` tests the new line, `before` the last one."""
        found = self.pattern.search(current if self.after else last) is not None
        return found != self.negate


@dataclass
class Pending:
    """A multi-line event being collected (message_buffer.go)."""

    content: bytearray
    lines: int
    last: bytes
    last_offset: int
    end: int
    truncated: bool


@dataclass
class Harvester:
    file: BinaryIO
    offset: int
    idle_since: float
    buffer: bytearray = field(default_factory=bytearray)
    pending: Pending | None = None
    last_line_at: float = 0.0


@dataclass(frozen=True)
class Event:
    message: bytes
    path: str
    flags: tuple[str, ...]
    offset: int = 0  # log.offset


@dataclass(frozen=True)
class Desc:
    id: Identity
    size: int
    mtime_ns: int


def duration(value: Any) -> float:
    """A Go duration (`1s`, `300s`, `5m`) in seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for number, unit in re.findall(r"([\d.]+)(ms|s|m|h)", str(value)):
        total += float(number) * units[unit]
    return total


class Filestream:
    """One filestream input. Drive it with `tick(now)`; `stop()` is a filebeat shutdown.

    `default_identity` is the version's default when the input sets none: `fingerprint` for
    9.x, `native` for 8.x. `registry` survives a restart: pass the old follower's.
    """

    def __init__(
        self,
        rendered: dict[str, Any],
        *,
        default_identity: str = "fingerprint",
        registry: dict[Identity, State] | None = None,
    ) -> None:
        self.paths: list[str] = rendered["paths"]
        self.excludes = [
            re.compile(p) for p in rendered.get("prospector.scanner.exclude_files", [])
        ]
        self.interval = duration(rendered.get("prospector.scanner.check_interval", "10s"))
        self.identity = self._identity(rendered, default_identity)
        self.close_renamed = bool(rendered.get("close.on_state_change.renamed", False))
        self.close_removed = bool(rendered.get("close.on_state_change.removed", True))
        self.inactive = duration(rendered.get("close.on_state_change.inactive", "5m"))
        self.clean_removed = bool(rendered.get("clean_removed", True))
        self.max_bytes = int(rendered.get("message_max_bytes", 10485760))
        self.multiline = Multiline.of(rendered)
        self.registry: dict[Identity, State] = registry if registry is not None else {}
        self.events: list[Event] = []
        self._prev: dict[str, Desc] | None = None
        self._harvesters: dict[Identity, Harvester] = {}
        self._last_scan = float("-inf")

    @staticmethod
    def _identity(rendered: dict[str, Any], default: str) -> str:
        # 9.x ignores a configured identity unless the fingerprint scanner is off (beats#45621)
        fingerprint_on = rendered.get(
            "prospector.scanner.fingerprint.enabled", default == "fingerprint"
        )
        for name in ("native", "path", "fingerprint"):
            if f"file_identity.{name}" in rendered:
                return "fingerprint" if fingerprint_on else name
        return "fingerprint" if fingerprint_on else default

    # -- the scanner and the watcher ------------------------------------------------------

    def tick(self, now: float) -> None:
        """Scan when a check interval passed since the last scan, then let harvesters read."""
        if now - self._last_scan >= self.interval:
            self._last_scan = now
            self._scan(now)
        self._read(now)

    def _scan(self, now: float) -> None:
        files = self._files()
        if self._prev is None:
            self._init(files)
            self._prev = {}
        prev = dict(self._prev)
        new_by_name: dict[str, Desc] = {}
        new_by_id: dict[Identity, str] = {}
        for path, desc in files.items():
            old = prev.get(path)
            if old is None or old.id != desc.id:
                new_by_name[path], new_by_id[desc.id] = desc, path
                continue
            if old.size != desc.size or old.mtime_ns != desc.mtime_ns:
                if desc.size < old.size:
                    self._on_truncate(path, desc, now)
                else:
                    self._start(path, desc, now)
            del prev[path]
        for desc in prev.values():
            if desc.id in new_by_id:
                new_path = new_by_id.pop(desc.id)
                del new_by_name[new_path]
                self._on_rename(new_path, desc)
            else:
                self._on_delete(desc)
        for path, desc in new_by_name.items():
            self.registry.setdefault(desc.id, State(0, path)).source = path
            self._start(path, desc, now)
        self._prev = files

    def _files(self) -> dict[str, Desc]:
        found: dict[str, Desc] = {}
        for pattern in self.paths:
            for path in glob.glob(pattern):
                if any(p.search(path) for p in self.excludes):
                    continue
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                if not os.path.isfile(path) or os.path.islink(path):
                    continue
                identity = self._id_of(path, info)
                if identity is not None:
                    found[path] = Desc(identity, info.st_size, info.st_mtime_ns)
        return found

    def _id_of(self, path: str, info: os.stat_result) -> Identity | None:
        if self.identity == "native":
            return f"native::{info.st_ino}-{info.st_dev}"
        if self.identity == "path":
            return f"path::{path}"
        if info.st_size < 1024:
            return None  # "filesize ... expected at least 1024 for fingerprinting"
        try:
            with open(path, "rb") as file:
                return "fingerprint::" + hashlib.sha256(file.read(1024)).hexdigest()
        except FileNotFoundError:
            return None

    def _init(self, files: dict[str, Desc]) -> None:
        if self.clean_removed:
            present = set(files)
            for key in [k for k, s in self.registry.items() if s.source not in present]:
                del self.registry[key]

    # -- the prospector -------------------------------------------------------------------

    def _start(self, path: str, desc: Desc, now: float) -> None:
        if desc.id in self._harvesters:
            return
        try:
            file = open(path, "rb")  # noqa: SIM115 - a harvester holds its file open
        except FileNotFoundError:
            return
        info = os.fstat(file.fileno())
        if self._id_of(path, info) != desc.id:
            file.close()  # replaced since the scan: the next scan sees it
            return
        state = self.registry.setdefault(desc.id, State(0, path))
        offset = state.offset if state.offset <= info.st_size else 0
        file.seek(offset)
        self._harvesters[desc.id] = Harvester(file, offset, now)

    def _on_truncate(self, path: str, desc: Desc, now: float) -> None:
        self.registry.setdefault(desc.id, State(0, path)).offset = 0
        self._stop(desc.id)
        self._start(path, desc, now)

    def _on_rename(self, new_path: str, desc: Desc) -> None:
        if desc.id in self.registry:
            self.registry[desc.id].source = new_path
        if self.close_renamed:
            self._stop(desc.id)

    def _on_delete(self, desc: Desc) -> None:
        if self.close_removed:
            self._stop(desc.id)
        if self.clean_removed and desc.id in self.registry:
            if desc.id in self._harvesters:
                self.registry[desc.id].removed = True  # the GC waits for the harvester
            else:
                del self.registry[desc.id]

    def _stop(self, identity: Identity) -> None:
        # An event still being joined is lost with its harvester; the registry offset is at the
        # end of the last event sent, so the next harvester reads its lines again.
        harvester = self._harvesters.pop(identity, None)
        if harvester is not None:
            harvester.file.close()
        state = self.registry.get(identity)
        if state is not None and state.removed:
            del self.registry[identity]

    def stop(self) -> None:
        """filebeat shuts down: harvesters close, the registry stays."""
        for identity in list(self._harvesters):
            self._stop(identity)

    # -- the harvesters -------------------------------------------------------------------

    def _read(self, now: float) -> None:
        for identity, harvester in list(self._harvesters.items()):
            state = self.registry[identity]
            data = harvester.file.read()
            if not data:
                multiline = self.multiline
                if (
                    multiline is not None
                    and harvester.pending is not None
                    and now - harvester.last_line_at >= multiline.timeout
                ):
                    self._send(harvester, state)  # "flushed because timeout reached"
                if now - harvester.idle_since >= self.inactive:
                    self._stop(identity)
                continue
            harvester.idle_since = now
            harvester.last_line_at = now
            harvester.buffer += data
            *lines, rest = bytes(harvester.buffer).split(b"\n")
            harvester.buffer[:] = rest
            for line in lines:
                start = harvester.offset
                harvester.offset += len(line) + 1
                if len(line) > 4 * self.max_bytes:
                    # "Exceeded %d max bytes in line limit, skipped %d bytes line"
                    if harvester.pending is None:
                        state.offset = harvester.offset
                    continue
                if self.multiline is None:
                    self._emit(line, state.source, start)
                    state.offset = harvester.offset
                else:
                    self._join(harvester, state, line, start)

    def _join(self, harvester: Harvester, state: State, line: bytes, start: int) -> None:
        multiline = self.multiline
        assert multiline is not None
        pending = harvester.pending
        if pending is not None:
            if multiline.flush is not None and multiline.flush.search(line):
                self._add(pending, line, start, harvester.offset, multiline)
                self._send(harvester, state)
                return
            if not multiline.joins(pending.last, line):
                self._send(harvester, state)
                pending = None
        if pending is None:
            harvester.pending = Pending(bytearray(), 0, b"", start, start, False)
            pending = harvester.pending
        self._add(pending, line, start, harvester.offset, multiline)

    def _add(
        self, pending: Pending, line: bytes, start: int, end: int, multiline: Multiline
    ) -> None:
        """message_buffer.go `addLine`: content only within max_lines and max_bytes."""
        separator = b"\n" if pending.content else b""
        space = self.max_bytes - len(pending.content) - len(separator)
        if space > 0 and pending.lines < multiline.max_lines:
            kept = line[:space]
            pending.content += separator + kept
            pending.lines += 1
            pending.truncated |= len(kept) < len(line)
        else:
            pending.truncated = True
        pending.last, pending.last_offset, pending.end = line, start, end

    def _send(self, harvester: Harvester, state: State) -> None:
        pending = harvester.pending
        if pending is None:
            return
        harvester.pending = None
        flags = (("truncated",) if pending.truncated else ()) + (
            ("multiline",) if pending.lines > 1 else ()
        )
        self.events.append(Event(bytes(pending.content), state.source, flags, pending.last_offset))
        state.offset = pending.end

    def _emit(self, line: bytes, path: str, offset: int) -> None:
        if len(line) > self.max_bytes:
            self.events.append(Event(line[: self.max_bytes], path, ("truncated",), offset))
        else:
            self.events.append(Event(line, path, (), offset))
