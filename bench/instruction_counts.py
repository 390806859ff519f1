"""Instructions per event of the poll loop on both cores, counted by callgrind in one command.

    .venv/bin/python -m bench.instruction_counts --events 20000 [--no-parse] [--cores python,native]

For each core it runs `bench.instructions --core <core>` (`Pipeline._take` over reads of 1,000
bench events; `--poll-loop` for the reference) under `valgrind --tool=callgrind` twice, with
`--events N` and with `--events 0`, and prints (total with N - total with 0) / N per core and
native ÷ python: the start of the interpreter, the imports, building the events and registering
the native core's routes are in both totals and drop out. Deterministic where timings on a shared
machine are not; it takes a few minutes (callgrind runs some 50 times slower than the machine).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys

from bench import child_env

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def collected(core: str, events: int, parse: bool) -> int:
    """The instructions callgrind counted for one `bench.instructions` run."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        "--events",
        str(events),
        "--core",
        core,
        "--poll-loop",
        *([] if parse else ["--no-parse"]),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, env=child_env(), timeout=3600
    )
    found = _COLLECTED.findall(done.stderr)
    if done.returncode != 0 or not found:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(found[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="1 to 20,000")
    parser.add_argument("--no-parse", action="store_true", help="parsing.enabled=false")
    parser.add_argument("--cores", default="python,native", help="comma-separated")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    cores = [core.strip() for core in args.cores.split(",") if core.strip()]
    if not cores or any(core not in ("python", "native") for core in cores):
        raise SystemExit(f"--cores {args.cores!r}: expected python and/or native")
    parse = not args.no_parse
    per_event: dict[str, float] = {}
    for core in cores:
        full, empty = collected(core, args.events, parse), collected(core, 0, parse)
        per_event[core] = (full - empty) / args.events
        print(
            f"{core}: {full:,} - {empty:,} instructions over {args.events:,} events: "
            f"{per_event[core]:,.0f} per event",
            flush=True,
        )
    print()
    print(f"poll loop, instructions per event, parsing {'on' if parse else 'off'}")
    for core, value in per_event.items():
        print(f"  {core:<7} {value:>10,.0f}")
    if "python" in per_event and "native" in per_event:
        print(f"  native ÷ python: {per_event['native'] / per_event['python']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
