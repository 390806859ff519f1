"""Where the indexer's CPU goes: one backlog drain sampled by py-spy, summarised per thread.

py-spy is not a dependency of the benchmark: `--profile` needs it installed (`pip install py-spy`).
The raw (collapsed) stacks are kept next to the results; `py-spy record -o profile.svg --pid PID`
draws the same as a flame graph.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

from bench.measure import Bench, indexer

RATE = 250
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)\)$")


def profile_drain(bench: Bench, out: Path) -> str:
    """Drain the backlog twice with one indexer under py-spy: once sampling running threads only
    (where the CPU goes), once with idle threads too (where the wall time goes). Return both
    per-thread summaries; the raw stacks stay in `out`."""
    beside = Path(sys.executable).parent / "py-spy"
    spy = shutil.which("py-spy") or (str(beside) if beside.exists() else None)
    if spy is None:
        return "--profile: py-spy is not installed (pip install py-spy); skipped"
    reports = []
    for idle in (False, True):
        reports.append(_record(spy, bench, out, idle))
    return "\n\n".join(reports)


def _record(spy: str, bench: Bench, out: Path, idle: bool) -> str:
    kind = "wall" if idle else "cpu"
    raw = out / f"profile-{kind}.txt"
    spies: list[subprocess.Popen[bytes]] = []

    def attach(pids: list[int]) -> None:
        command = [spy, "record", "--pid", str(pids[0]), "--rate", str(RATE), "--threads"]
        command += ["--nonblocking", "--format", "raw", "--output", str(raw)]
        command += ["--idle"] if idle else []
        log = (out / f"py-spy-{kind}.log").open("wb")
        spies.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))

    result = indexer(bench, 1, on_start=attach)
    for spy_proc in spies:
        spy_proc.wait(60)
    if not raw.exists():
        return f"--profile: py-spy wrote nothing (see {out / f'py-spy-{kind}.log'})"
    summary = summarise(raw.read_text())
    if not idle:
        summary += "\n\n" + stages(raw.read_text(), bench.events)
    (out / f"profile-{kind}-summary.txt").write_text(summary)
    what = "all threads, idle included" if idle else "running threads only"
    return f"py-spy, {what} ({result.rate:,.0f} events/s under the profiler):\n{summary}"


def summarise(collapsed: str, top: int = 15) -> str:
    """Self samples per function, grouped by thread role (poll loop, bulk writers, others)."""
    self_time: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        role = _role(frames)
        leaf = _short(frames[-1]) if len(frames) > 1 else "(no Python frame)"
        self_time[role][leaf] += int(count)
        totals[role] += int(count)
    lines = []
    grand = sum(totals.values()) or 1
    for role, total in totals.most_common():
        lines.append(f"{role}: {total} samples ({total / grand:.0%} of all)")
        for func, samples in self_time[role].most_common(top):
            lines.append(f"  {samples / total:6.1%}  {func}")
    return "\n".join(lines)


# (substring of a frame, stage): the first rule matching the deepest frame wins, then its caller's.
STAGES = (
    ("json/decoder.py", "writer: parse the bulk response (stdlib json)"),
    ("NdjsonSerializer.dumps", "writer: client copies the body (NdjsonSerializer)"),
    ("_send_round.<locals>.<listcomp>", "writer: join the NDJSON lines"),
    ("socket.py", "writer: HTTP send and receive"),
    ("http/client.py", "writer: HTTP send and receive"),
    ("urllib3/", "writer: HTTP send and receive"),
    ("elastic_transport/", "writer: client and transport overhead"),
    ("elasticsearch/", "writer: client and transport overhead"),
    ("tenacity/", "writer: retry wrapper (tenacity)"),
    ("BulkWriter.", "writer: bulk writer logic"),
    ("indexer/bulk/", "writer: bulk writer logic"),  # its rounds, targets, dead letters
    ("indices.py", "writer: index checks"),
    ("admin/", "writer: index checks"),
    ("decode (indexer/decode.py", "poll: decode (orjson)"),
    ("route.py", "poll: route and enrich"),
    ("identity.py", "poll: route and enrich"),
    ("encode (indexer/encode.py", "poll: encode (orjson)"),
    ("message_seconds", "poll: Kafka timestamp"),
    ("batch.py", "poll: batch and offsets"),
    ("commit.py", "poll: batch and offsets"),
    ("prometheus_client/", "metrics"),
    ("metrics", "metrics"),
    ("Pipeline._take", "poll: per-message loop"),
    ("Pipeline._turn", "poll: consume() (librdkafka, C)"),
    ("Pipeline.", "poll: pipeline other"),
)


def stages(collapsed: str, events: int) -> str:
    """CPU per event by stage: sampled time of the running threads, divided by the events."""
    per_stage: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            per_stage[_stage(stack.split(";"))] += int(count)
    lines = ["stage (sampled time of running threads)    µs/event   share"]
    total = sum(per_stage.values()) or 1
    for stage, samples in per_stage.most_common():
        micros = samples / RATE / events * 1e6
        lines.append(f"{stage:<50} {micros:6.2f}  {samples / total:6.1%}")
    return "\n".join(lines)


def _stage(frames: list[str]) -> str:
    for frame in reversed(frames[1:]):
        for needle, stage in STAGES:
            if needle in frame:
                return stage
    return "other (start-up, health server, idle wake-ups)"


def _role(frames: list[str]) -> str:
    """The thread's role, from its name in py-spy's first frame: `thread (123): MainThread`."""
    first = frames[0]
    if not first.startswith("thread (") or ": " not in first:
        return "unnamed thread (start-up)"
    name = first.rpartition(": ")[2]
    if name == "MainThread":
        return "poll loop (main thread)"
    if name.startswith("bulk-writer"):
        return "bulk writer threads"
    return f"thread {name}"


def _short(frame: str) -> str:
    found = _FRAME.match(frame)
    if found is None:
        return frame
    return f"{found['func']} ({found['file']})"
