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

Hostile logfmt-looking lines against well-formed logfmt lines of the same length, 1 to 64 KiB (CPU
µs per line, the best of five rounds; the shape of the growth is the point, not the µs):

    PYTHONPATH=. .venv/bin/python -m bench.parse_cost growth

or in instructions per line (callgrind, one phase per length and kind, as above):

    PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind \\
        --callgrind-out-file=/tmp/parse_cost/growth.out .venv/bin/python -m bench.parse_cost \\
        growth --instructions --out /tmp/parse_cost/growth.out
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


def _callgrind_helper() -> Any:
    build = Path(tempfile.mkdtemp())
    (build / "cg.c").write_text(_HELPER)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", build / "cg.so", build / "cg.c"], check=True)
    return ctypes.CDLL(str(build / "cg.so"))


def _phase(helper: Any, out: Path, name: str, run: Any) -> int:
    """Instructions `run()` took, from the dump callgrind writes for this phase."""
    before = set(out.parent.glob(out.name + "*"))
    helper.cg_zero()
    run()
    helper.cg_dump(name.encode())
    (dump,) = set(out.parent.glob(out.name + "*")) - before
    return int(re.findall(r"^summary: (\d+)", dump.read_text(), re.M)[-1])


def every_layout(lines: int, out: Path) -> None:
    """One phase per layout in this process (run under callgrind); prints the table."""
    helper = _callgrind_helper()
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


GROWTH_KIB = (1, 8, 16, 32, 64)


def _growth_lines(kib: int) -> tuple[str, str]:
    """A well-formed logfmt line and a hostile one of the same length: one quoted value of
    plain words against one quoted value of `\\"` tokens (each looked like the end of the
    value)."""
    size = kib * 1024 - 16
    room = size - len('level=info msg=""')

    def quoted(token: str) -> str:
        count, pad = divmod(room, len(token))
        return 'level=info msg="' + token * count + "x" * pad + '"'

    hostile, fine = quoted('\\" '), quoted("word ")
    assert len(hostile) == len(fine) == size
    return fine, hostile


def growth() -> None:
    parser, _ = _parser()
    print("| length | well-formed logfmt µs/line | hostile µs/line | hostile / well-formed |")
    print("|---|---|---|---|")
    for kib in GROWTH_KIB:
        cost = [_best(parser, line) for line in _growth_lines(kib)]
        print(f"| {kib} KiB | {cost[0]:,.0f} | {cost[1]:,.0f} | {cost[1] / cost[0]:.2f} |")


def growth_instructions(out: Path, lines: int = 10) -> None:
    """`growth` in instructions per line (run under callgrind): each phase parses one line
    `lines` times; the empty line's phase (the call alone) is taken off."""
    helper = _callgrind_helper()
    parser, _ = _parser()

    def parsing(line: str) -> Any:
        return lambda: [parser.parse({"message": line}, NOW) for _ in range(lines)]

    base = _phase(helper, out, "empty", parsing(""))
    print(
        "| length | well-formed logfmt instructions/line | hostile instructions/line | "
        "hostile / well-formed | per byte (hostile) |"
    )
    print("|---|---|---|---|---|")
    for kib in GROWTH_KIB:
        fine, hostile = (
            (_phase(helper, out, f"{kind}-{kib}", parsing(line)) - base) / lines
            for kind, line in zip(("fine", "hostile"), _growth_lines(kib), strict=True)
        )
        print(
            f"| {kib} KiB | {fine:,.0f} | {hostile:,.0f} | {hostile / fine:.2f} | "
            f"{hostile / (kib * 1024 - 16):.0f} |"
        )


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
    grow = sub.add_parser("growth", help="hostile vs well-formed logfmt, 1 to 64 KiB")
    grow.add_argument("--instructions", action="store_true", help="under callgrind")
    grow.add_argument("--out", type=Path, default=Path("/tmp/parse_cost/growth.out"))
    every = sub.add_parser("all", help="every layout, one callgrind phase each")
    every.add_argument("--lines", type=int, default=20_000)
    every.add_argument("--out", type=Path, default=Path("/tmp/parse_cost/cg.out"))
    args = parser.parse_args()
    if args.what == "growth" and args.instructions:
        growth_instructions(args.out)
    elif args.what == "growth":
        growth()
    elif args.what == "all":
        every_layout(args.lines, args.out)
    elif args.list or args.name is None:
        print("\n".join(LAYOUTS))
    else:
        layout(args.name, args.lines)


if __name__ == "__main__":
    main()
