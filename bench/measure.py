"""Measurements: each runs something in child processes and returns one `Result`.

Writers (bare loop, indexer) are timed at the sink: the steady window runs from the arrival of the
first bulk to the arrival of the last document, and the documents counted are those after the
first bulk. Their CPU is read from /proc every 20 ms and interpolated at the two ends of that
window, so process start-up, the group join and shutdown are not charged to the events.
"""

from __future__ import annotations

import bisect
import contextlib
import http.client
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import child_env
from bench.procstat import cpu_seconds, peak_rss_mb
from bench.scrape import scrape, summed
from bench.sinkctl import SinkProcess
from indexer.embedded import free_port

LEAN = "lean bare loop"
SAMPLE_SECONDS = 0.02
STATS_SECONDS = 0.1
SESSION = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


@dataclass
class Result:
    """One measurement. `rate` is events per second in the steady window."""

    name: str
    rate: float
    cpu_us_per_event: float | None = None
    peak_rss_mb: float | None = None
    docs_per_bulk: float | None = None
    checks: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Bench:
    """Where the benchmark's servers are and where its logs go."""

    bootstrap: str
    topic: str
    events: int
    sink: SinkProcess
    logs: Path
    core: str | None = None
    """INDEXER_CORE of the indexers it starts (`native`, `python`); None: the setting's default."""


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _json_child(command: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        command, capture_output=True, check=True, timeout=timeout, env=child_env()
    )
    lines = done.stdout.decode().strip().splitlines()
    data: dict[str, Any] = orjson.loads(lines[-1])
    return data


def consume_only(bench: Bench) -> Result:
    data = _json_child(
        python_module(
            "bench.consume_only",
            "--bootstrap", bench.bootstrap,
            "--topic", bench.topic,
            "--group", f"bench-consume-{uuid.uuid4().hex[:8]}",
            "--events", str(bench.events),
        ),
        timeout=60 + bench.events / 20_000,
    )  # fmt: skip
    checks = [] if data["events"] == bench.events else [f"consumed {data['events']}"]
    return Result(
        "consume only",
        data["window_events"] / data["seconds"],
        cpu_us_per_event=data["cpu_seconds"] / data["window_events"] * 1e6,
        peak_rss_mb=data["peak_rss_mb"],
        checks=checks,
    )


def transform_only(bench: Bench) -> Result:
    data = _json_child(
        python_module("bench.transform_only", "--events", str(bench.events)),
        timeout=60 + bench.events / 20_000,
    )
    events = data["events"]
    per_event = {
        name: data[f"{name}_cpu_seconds"] / events * 1e6
        for name in ("decode", "decode_route", "transform")
    }
    return Result(
        "transform only",
        events / data["transform_seconds"],
        cpu_us_per_event=per_event["transform"],
        extra={
            "decode_us": per_event["decode"],
            "route_us": per_event["decode_route"] - per_event["decode"],
            "encode_us": per_event["transform"] - per_event["decode_route"],
        },
    )


def sink_capacity(bench: Bench, documents: int) -> Result:
    bench.sink.reset()
    subprocess.run(
        python_module(
            "bench.loadgen", "--port", str(bench.sink.port), "--documents", str(documents)
        ),
        check=True,
        timeout=120,
        env=child_env(),
    )
    stats = bench.sink.stats()
    rate = (stats["documents"] - stats["first_bulk_docs"]) / (stats["last"] - stats["first"])
    return Result("sink capacity", rate, docs_per_bulk=stats["documents"] / stats["bulks"])


def bare_loop(bench: Bench) -> Result:
    command = python_module(
        "bench.bare_loop",
        "--bootstrap", bench.bootstrap,
        "--topic", bench.topic,
        "--group", f"bench-bare-{uuid.uuid4().hex[:8]}",
        "--url", bench.sink.url,
    )  # fmt: skip
    return _drain("bare loop", bench, [command], [{}])


def lean_loop(bench: Bench) -> Result:
    """The yardstick of issue 16: `bench/lean_loop.py`, a verbatim copy of
    `../shared/perf/bare_loop.py` (raw HTTP/1.1 keep-alive bulks, `_id` = topic:partition:offset)."""
    command = [
        sys.executable,
        str(Path(__file__).with_name("lean_loop.py")),
        "--bootstrap", bench.bootstrap,
        "--topic", bench.topic,
        "--group", f"bench-lean-{uuid.uuid4().hex[:8]}",
        "--es", bench.sink.url.removeprefix("http://").rstrip("/"),
    ]  # fmt: skip
    return _drain(LEAN, bench, [command], [{}])


def indexer(
    bench: Bench,
    processes: int,
    fail_rate: float = 0.0,
    on_start: Callable[[list[int]], None] | None = None,
    overrides: dict[str, str] | None = None,
    label: str = "",
) -> Result:
    """Drain the backlog with `processes` indexers in one fresh group, on `bench.core`.

    `overrides` (INDEXER_* variables) are for experiments; the figures use none. `label` is
    added to the name (`, python core`). The result's `extra["core"]` is the core it ran
    (INDEXER_CORE=native fails start-up without the native core, so it is the one that ran).
    """
    group = f"bench-indexer-{uuid.uuid4().hex[:8]}"
    envs = [
        {**indexer_env(bench, group, bench.topic), **(overrides or {})} for _ in range(processes)
    ]
    name = f"indexer x{processes}" + label + (f", {fail_rate:.0%} 429s" if fail_rate else "")
    if overrides:
        name += ", " + " ".join(f"{k.removeprefix('INDEXER_')}={v}" for k, v in overrides.items())
    commands = [python_module("indexer", "run")] * processes
    result = _drain(name, bench, commands, envs, fail_rate, on_start)
    result.extra["core"] = envs[0].get("INDEXER_CORE", "default")
    return result


def indexer_of(bench: Bench, checkout: Path) -> Result:
    """`indexer(bench, 1)` running the `indexer` package of another checkout (first on
    PYTHONPATH), named by its commit."""
    if not (checkout / "indexer" / "__init__.py").is_file():
        raise SystemExit(f"--against {checkout}: no indexer package there")
    commit = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    group = f"bench-indexer-{uuid.uuid4().hex[:8]}"
    env = {**indexer_env(bench, group, bench.topic), "PYTHONPATH": str(checkout.resolve())}
    env.pop("INDEXER_CORE", None)  # its own default: an older checkout may not know the setting
    name = f"indexer x1, code of {commit or checkout}"
    # -P: the working directory (this checkout) is not put before PYTHONPATH
    return _drain(name, bench, [[sys.executable, "-P", "-m", "indexer", "run"]], [env])


def indexer_env(bench: Bench, group: str, topic: str) -> dict[str, str]:
    """Production settings (the defaults), pointed at the benchmark's broker, topic and sink."""
    return {
        "INDEXER_KAFKA__BOOTSTRAP_SERVERS": bench.bootstrap,
        "INDEXER_KAFKA__TOPICS": orjson.dumps([topic]).decode(),
        "INDEXER_KAFKA__GROUP_ID": group,
        "INDEXER_KAFKA__OPTIONS": orjson.dumps(SESSION).decode(),
        "INDEXER_ELASTICSEARCH__HOSTS": orjson.dumps([bench.sink.url]).decode(),
        "INDEXER_METRICS__HOST": "127.0.0.1",
        "INDEXER_METRICS__PORT": str(free_port()),
        "INDEXER_LOG__FORMAT": "json",
        **({"INDEXER_CORE": bench.core} if bench.core else {}),
    }


@dataclass
class _Samples:
    """(time, summed CPU seconds) of the watched processes, and their peak RSS."""

    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss: dict[int, float] = field(default_factory=dict)

    def take(self, pids: list[int]) -> None:
        now = time.monotonic()
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError, ValueError):
                total += cpu_seconds(pid)
                self.peak_rss[pid] = peak_rss_mb(pid)
        self.times.append(now)
        self.cpu.append(total)

    def cpu_at(self, moment: float) -> float:
        """Linear interpolation of the CPU counter at `moment`."""
        i = bisect.bisect_left(self.times, moment)
        if i <= 0:
            return self.cpu[0]
        if i >= len(self.times):
            return self.cpu[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        c0, c1 = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * (moment - t0) / (t1 - t0) if t1 > t0 else c1


def _drain(
    name: str,
    bench: Bench,
    commands: list[list[str]],
    envs: list[dict[str, str]],
    fail_rate: float = 0.0,
    on_start: Callable[[list[int]], None] | None = None,
) -> Result:
    """Start the writers, wait until the sink holds every event, stop them, and measure."""
    bench.sink.reset(fail_rate=fail_rate)
    procs = [
        spawn(command, env, bench.logs, name) for command, env in zip(commands, envs, strict=True)
    ]
    pids = [p.pid for p in procs]
    samples = _Samples()
    deadline = time.monotonic() + 90 + bench.events / 10_000
    next_stats = 0.0
    received = 0
    metrics: dict[str, float] = {}
    try:
        if on_start is not None:
            on_start(pids)
        while received < bench.events:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name}: {received} of {bench.events} events after the deadline"
                )
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name}: pid {proc.pid} exited {proc.returncode} early")
            samples.take(pids)
            if time.monotonic() >= next_stats:
                received = bench.sink.stats()["distinct_ids"]
                next_stats = time.monotonic() + STATS_SECONDS
            time.sleep(SAMPLE_SECONDS)
        samples.take(pids)
        metrics = summed([scrape(int(e["INDEXER_METRICS__PORT"])) for e in envs if e])
    finally:
        stop_all(procs)
    stats = bench.sink.stats()
    result = _writer_result(name, bench, stats, samples, fail_rate)
    result.extra.update(_explain(metrics, stats, processes=len(procs)))
    return result


def _explain(metrics: dict[str, float], stats: dict[str, Any], processes: int) -> dict[str, Any]:
    """What the indexer's own metrics say about the drain (nothing for the bare loop)."""
    if not metrics:
        return {}
    span = stats["last"] - stats["first"]
    count = metrics.get("indexer_bulk_duration_seconds_count") or 1.0
    return {
        "paused_share": metrics.get("indexer_paused_seconds_total", 0.0) / (span * processes),
        "bulk_seconds_mean": metrics.get("indexer_bulk_duration_seconds_sum", 0.0) / count,
        "items_retried": metrics.get("indexer_bulk_items_retried_total", 0.0),
        # Events the native core left to the reference path, of those consumed (0 on python).
        "declined_share": metrics.get("indexer_core_declined_total", 0.0)
        / (metrics.get("indexer_events_consumed_total") or 1.0),
    }


def _writer_result(
    name: str, bench: Bench, stats: dict[str, Any], samples: _Samples, fail_rate: float
) -> Result:
    span = stats["last"] - stats["first"]
    window_events = stats["documents"] - stats["first_bulk_docs"]
    cpu = samples.cpu_at(stats["last"]) - samples.cpu_at(stats["first"])
    checks = []
    if stats["distinct_ids"] != bench.events:
        checks.append(f"{stats['distinct_ids']} distinct ids, expected {bench.events}")
    if stats["duplicates"]:
        checks.append(f"{stats['duplicates']} ids received twice")
    return Result(
        name,
        window_events / span,
        cpu_us_per_event=cpu / window_events * 1e6,
        peak_rss_mb=max(samples.peak_rss.values(), default=0.0),
        docs_per_bulk=stats["documents"] / stats["bulks"],
        checks=checks,
        extra={
            "indices": stats["indices"],
            "failed_items": stats["failed_items"],
            "fail_rate": fail_rate,
            "total_cpu_us_per_event": samples.cpu[-1] / bench.events * 1e6,
        },
    )


def spawn(
    command: list[str], env: dict[str, str], logs: Path, name: str
) -> subprocess.Popen[bytes]:
    logs.mkdir(parents=True, exist_ok=True)
    slug = name.replace(" ", "-").replace(",", "").replace("%", "pct")
    log = (logs / f"{slug}-{uuid.uuid4().hex[:6]}.log").open("wb")
    return subprocess.Popen(command, env=child_env(env), stdout=log, stderr=subprocess.STDOUT)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(metrics_port: int, timeout: float = 30.0) -> None:
    """Wait until an indexer's /readyz answers 200 (joined its group, Elasticsearch answering)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", metrics_port, timeout=1)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        time.sleep(0.1)
    raise TimeoutError(f"the indexer on metrics port {metrics_port} was not ready in {timeout} s")
