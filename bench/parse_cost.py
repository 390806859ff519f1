"""The structured-line parser's cost per layout, and a hostile line's cost against its length.

Per layout, in instructions (callgrind; deterministic where timings on a shared machine are
not), `LineParser.parse` alone on one example line of each layout, 20,000 times, in one run:

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/parse_cost/cg.out .venv/bin/python -m bench.parse_cost all

Each layout is a phase between callgrind client requests (zero the counters, run, dump), made
through a small C helper built with the system's compiler and valgrind's `callgrind.h`; a
baseline phase builds the same events without parsing them. Instructions per line = (phase -
baseline) / 20,000. Or one layout per run: `layout --name NAME --lines 20000` against
`--lines 0` (`--list` prints the names).

Hostile logfmt-looking lines against well-formed logfmt lines of the same length (CPU µs per line,
the best of five rounds; the shape of the growth is the point, not the µs):

    PYTHONPATH=. .venv/bin/python -m bench.parse_cost growth
"""

from __future__ import annotations

import argparse
import ctypes
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from indexer.route import DayResolver
from indexer.settings import ParsingSettings, RoutingSettings
from indexer.structured import LineParser

# One example of each layout the README lists, dated inside the bounds of NOW.
NOW = 1_796_126_400.0  # 2026-12-01T12:00:00Z
LAYOUTS = {
    "plain-no-level": '10.42.0.7 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12',
    "sentence": "Connection reset by peer while reading the response header",
    "iso-level": "2026-12-01 10:00:00.123 INFO  [main] c.e.App - started",
    "iso-no-level": "2026-12-01 10:00:00.123 c.e.OrderService - no level here",
    "log4j-short-date": "26/12/01 10:00:00 INFO executor.Executor: Finished task 1.0",
    "log4j-dash": "2026-12-01 10:00:00,903 - ERROR [CommitProcessor:1:NIOServerCnxn@180] - x",
    "hdfs-pid": "261201 100000 2561 WARN dfs.DataNode$DataXceiver: Got exception",
    "oslo": "2026-12-01 10:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1] x",
    "python-cookbook": "2026-12-01 10:00:00,123 - shop.db - WARNING - slow query",
    "python-basic": "WARNING:root:disk almost full",
    "windows-cbs": "2026-12-01 10:00:00, Info                  CBS    Loaded Servicing Stack",
    "logcat-threadtime": "12-01 10:00:00.811  1702  2395 D WindowManager: relayout",
    "logcat-brief": "W/ActivityManager(  512): Slow operation",
    "klog": "E1201 10:00:00.123456       1 main.go:42] watch failed",
    "apache": "[Tue Dec 01 10:00:00.123456 2026] [core:error] [pid 1:tid 2] File not found",
    "nginx": "2026/12/01 10:00:00 [error] 12#0: *3 open() failed",
    "tomcat": "01-Dec-2026 10:00:00.123 SEVERE [main] org.apache.catalina.core.StandardServer x",
    "syslog-3164": "Dec  1 10:00:00 node-1 NetworkManager[812]: <info>  [1764583200.1] dhcp4",
    "syslog-pri": "<131>1 2026-12-01T10:00:00.003Z node-1 app 42 ID47 - failed",
    "ruby": "I, [2026-12-01T10:00:00.123456 #4242]  INFO -- : Started GET /",
    "pino-pretty": "[10:00:00.123] INFO (4242): request completed",
    "serilog": "2026-12-01 10:00:00.123 +01:00 [WRN] Slow response",
    "nlog": "2026-12-01 10:00:00.1234|ERROR|Shop.Api|Unhandled exception",
    "winston-dotnet": "fail: Microsoft.AspNetCore.Server.Kestrel[13]",
    "json": '{"level":"warn","ts":"2026-12-01T10:00:00.000Z","caller":"db/q.go:7","msg":"slow"}',
    "logfmt": 'time="2026-12-01T10:00:00Z" level=info msg="reconciled" controller=deployment',
}


def _parser() -> tuple[LineParser, Any]:
    routing = RoutingSettings()
    days = DayResolver(routing.max_past, routing.max_future)
    return LineParser(ParsingSettings(), days.within), days


def layout(name: str, lines: int) -> None:
    parser, _ = _parser()
    message = LAYOUTS[name]
    path = {"file": {"path": "/data/logs/shop/cart/cart-0/log/app.log"}}
    for _ in range(lines):
        event = {"@timestamp": "2026-12-01T11:59:59.500Z", "message": message, "log": dict(path)}
        parser.parse(event, NOW)
    if lines == 0:  # the same events, built and thrown away: only the parse is measured apart
        for _ in range(20_000):
            _ = {"@timestamp": "2026-12-01T11:59:59.500Z", "message": message, "log": dict(path)}


_HELPER = """
#include <valgrind/callgrind.h>
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def every_layout(lines: int, out: Path) -> None:
    """One phase per layout in this process (run under callgrind); prints the table."""
    build = Path(tempfile.mkdtemp())
    (build / "cg.c").write_text(_HELPER)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", build / "cg.so", build / "cg.c"], check=True)
    helper = ctypes.CDLL(str(build / "cg.so"))
    parser, _ = _parser()
    path = {"file": {"path": "/data/logs/shop/cart/cart-0/log/app.log"}}
    counts: dict[str, int] = {}
    for name in ["baseline", *LAYOUTS]:
        message = LAYOUTS.get(name, "")
        before = set(out.parent.glob(out.name + "*"))
        helper.cg_zero()
        if name == "baseline":
            for _ in range(lines):
                _ = {
                    "@timestamp": "2026-12-01T11:59:59.500Z",
                    "message": message,
                    "log": dict(path),
                }
        else:
            for _ in range(lines):
                event = {
                    "@timestamp": "2026-12-01T11:59:59.500Z",
                    "message": message,
                    "log": dict(path),
                }
                parser.parse(event, NOW)
        helper.cg_dump(name.encode())
        (dump,) = set(out.parent.glob(out.name + "*")) - before
        counts[name] = int(re.findall(r"^summary: (\d+)", dump.read_text(), re.M)[-1])
    print("| layout | instructions per line |")
    print("|---|---|")
    for name in LAYOUTS:
        print(f"| {name} | {(counts[name] - counts['baseline']) / lines:,.0f} |")


def growth() -> None:
    parser, _ = _parser()
    print("| length | well-formed logfmt µs/line | hostile µs/line | hostile / well-formed |")
    print("|---|---|---|---|")
    for kib in (8, 16, 32, 64):
        size = kib * 1024 - 16
        words = (size - 24) // 5
        # One quoted value of `\"` tokens (each one looked like the end of the value) against
        # one quoted value of plain words: the same number of tokens, the same length.
        hostile = ('level=info msg="' + '\\" ' * ((size - 24) // 3))[: size - 1] + '"'
        fine = ('level=info msg="' + "word " * words)[: size - 1] + '"'
        assert len(hostile) <= 65_536 and len(fine) <= 65_536
        cost = [_best(parser, line) for line in (fine, hostile)]
        print(f"| {kib} KiB | {cost[0]:,.0f} | {cost[1]:,.0f} | {cost[1] / cost[0]:.2f} |")


def _best(parser: LineParser, line: str) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(20):
            parser.parse({"message": line}, NOW)
        best = min(best, (time.process_time() - start) / 20)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("layout", help="parse one layout's line --lines times")
    one.add_argument("--name", choices=sorted(LAYOUTS))
    one.add_argument("--lines", type=int, default=20_000)
    one.add_argument("--list", action="store_true")
    sub.add_parser("growth", help="hostile vs well-formed logfmt, 8 to 64 KiB")
    every = sub.add_parser("all", help="every layout, one callgrind phase each")
    every.add_argument("--lines", type=int, default=20_000)
    every.add_argument("--out", type=Path, default=Path("/tmp/parse_cost/cg.out"))
    args = parser.parse_args()
    if args.what == "growth":
        growth()
    elif args.what == "all":
        every_layout(args.lines, args.out)
    elif args.list or args.name is None:
        print("\n".join(LAYOUTS))
    else:
        layout(args.name, args.lines)


if __name__ == "__main__":
    main()
