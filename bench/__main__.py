"""`python -m bench`: the indexer's throughput, CPU, memory and latency, on one machine.

Starts the Tansu broker and the bench sink, proves the sink is not the bottleneck, preloads the
backlog, then measures `--runs` times, back to back in each run: consume only, transform only,
the bare loop, the lean bare loop (issue 16's yardstick, bench/lean_loop.py), the indexer
(1 process) on each core of `--cores` (the native core and the Python reference, where the
native one is built) and the indexer (2 processes in one group) on the first. Then one
indexer run with injected 429 items and one latency run at a steady rate, on the first core.
Prints medians with min-max, and writes everything (plus the children's logs) under
bench/results/<time>/.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from bench import ROOT, measure, report
from bench.events import backlog
from bench.latency import latency
from bench.machine import describe
from bench.measure import Bench, Result
from bench.preload import preload
from bench.sinkctl import SinkProcess, start_sink
from indexer.embedded import ServerProcess, start_kafka

TOPIC = "filebeat-bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="backlog size")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement")
    parser.add_argument(
        "--quick", action="store_true", help="1 run on 200k events (a smoke test, not figures)"
    )
    parser.add_argument(
        "--fail-rate",
        type=float,
        default=0.01,
        help="share of bulk items the sink answers 429 in the retry run (0: skip that run)",
    )
    parser.add_argument("--latency-rate", type=int, default=10_000, help="events/s")
    parser.add_argument(
        "--latency-seconds", type=float, default=20.0, help="0: skip the latency run"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also record one indexer drain with py-spy (must be installed; not a dependency)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="VAR=VALUE[;VAR=VALUE...]",
        help="an experiment: one more indexer x1 drain per run with these INDEXER_* variables "
        "(repeatable); reported in its own row, never as the figures",
    )
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="one more indexer x1 drain per run with the indexer package of another checkout "
        "(a git worktree of an older commit, say), interleaved with this one's: before and "
        "after in the same weather",
    )
    parser.add_argument(
        "--cores",
        default=None,
        metavar="CORE[,CORE]",
        help="the cores the indexer x1 drain runs on, each in every run (INDEXER_CORE: native, "
        "python); the first is the figures' core (its rows are `indexer x1`, `indexer x2`, the "
        "429 and latency runs), the others are named `indexer x1, <core> core`. Default: "
        "native,python where the native core is built, else python",
    )
    parser.add_argument("--out", type=Path, default=None, help="results directory")
    args = parser.parse_args(argv)
    args.cores = parse_cores(args.cores)
    if args.quick:
        args.runs, args.events = 1, min(args.events, 200_000)
    return args


def parse_cores(text: str | None) -> list[str]:
    """`--cores`: the cores to run, the figures' core first."""
    if text is None:
        built = importlib.util.find_spec("indexer_core") is not None
        return ["native", "python"] if built else ["python"]
    cores = [core.strip() for core in text.split(",") if core.strip()]
    if not cores or any(core not in ("native", "python") for core in cores):
        raise SystemExit(f"--cores {text!r}: expected native and/or python, comma-separated")
    if len(set(cores)) != len(cores):
        raise SystemExit(f"--cores {text!r}: a core named twice")
    return cores


def parse_variant(text: str) -> dict[str, str]:
    pairs = [item.split("=", 1) for item in text.split(";") if item.strip()]
    if not pairs or any(len(pair) != 2 or not pair[0].startswith("INDEXER_") for pair in pairs):
        raise SystemExit(f"--variant {text!r}: expected INDEXER_VAR=VALUE[;INDEXER_VAR=VALUE...]")
    return {key.strip(): value for key, value in pairs}


@contextlib.contextmanager
def servers() -> Iterator[tuple[ServerProcess, SinkProcess]]:
    kafka = start_kafka()
    try:
        sink = start_sink()
        try:
            yield kafka, sink
        finally:
            sink.stop()
    finally:
        kafka.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or ROOT / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    variants = [parse_variant(text) for text in args.variant]
    machine = describe()
    print(" | ".join(f"{k}: {v}" for k, v in machine.items()), flush=True)
    by_name: dict[str, list[Result]] = {}
    started = time.monotonic()

    def record(measurement: Callable[[], Result]) -> Result:
        result = measurement()
        by_name.setdefault(result.name, []).append(result)
        cpu = f", {result.cpu_us_per_event:.2f} µs/event" if result.cpu_us_per_event else ""
        rss = f", {result.peak_rss_mb:.0f} MB" if result.peak_rss_mb else ""
        problems = f"  !! {'; '.join(result.checks)}" if result.checks else ""
        print(
            f"[{time.monotonic() - started:6.0f} s] {result.name}: "
            f"{result.rate:,.0f} events/s{cpu}{rss}{problems}",
            flush=True,
        )
        return result

    print(f"cores: {', '.join(args.cores)} (figures: {args.cores[0]})", flush=True)
    with servers() as (kafka, sink):
        bootstrap = f"127.0.0.1:{kafka.port}"
        bench = Bench(bootstrap, TOPIC, args.events, sink, out / "logs", core=args.cores[0])
        others = [dataclasses.replace(bench, core=core) for core in args.cores[1:]]
        for _ in range(args.runs):
            record(lambda: measure.sink_capacity(bench, 1_000_000))
        count, seconds = preload(bootstrap, TOPIC, backlog(args.events))
        print(f"preloaded {count:,} events into {TOPIC} (4 partitions) in {seconds:.1f} s")
        for run in range(args.runs):
            print(f"-- run {run + 1} of {args.runs}", flush=True)
            record(lambda: measure.consume_only(bench))
            record(lambda: measure.transform_only(bench))
            record(lambda: measure.bare_loop(bench))
            record(lambda: measure.lean_loop(bench))
            record(lambda: measure.indexer(bench, 1))
            for other in others:
                record(functools.partial(measure.indexer, other, 1, label=f", {other.core} core"))
            record(lambda: measure.indexer(bench, 2))
            for variant in variants:
                record(functools.partial(measure.indexer, bench, 1, overrides=variant))
            if args.against is not None:
                record(lambda: measure.indexer_of(bench, args.against))
        if args.fail_rate:
            record(lambda: measure.indexer(bench, 1, fail_rate=args.fail_rate))
        if args.latency_seconds:
            record(lambda: latency(bench, args.latency_rate, args.latency_seconds))
            record(lambda: latency(bench, args.latency_rate, args.latency_seconds, {}))
        if args.profile:
            from bench.profile import profile_drain

            print(profile_drain(bench, out), flush=True)

    print()
    print(report.table(by_name))
    print()
    print(report.cores_table(by_name))
    print()
    print(report.stage_table(by_name))
    print()
    print(report.ratios(by_name))
    print(report.latency_line(by_name))
    print()
    print(report.targets_table(report.targets(by_name)))
    settings = {
        "events": args.events,
        "runs": args.runs,
        "fail_rate": args.fail_rate,
        "variants": args.variant,
        "against": str(args.against) if args.against else None,
        "cores": args.cores,
    }
    (out / "results.json").write_bytes(
        orjson.dumps(report.as_json(machine, by_name, settings), option=orjson.OPT_INDENT_2)
    )
    print(f"\n{time.monotonic() - started:.0f} s; results and logs in {out}")
    failed = any(r.checks for results in by_name.values() for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
