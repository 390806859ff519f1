"""Level agreement of the structured-line parser on real logs: loghub's 2,000-line samples.

    git clone https://github.com/logpai/loghub /tmp/loghub
    PYTHONPATH=. .venv/bin/python -m bench.levels_corpus /tmp/loghub

loghub (Zhu et al., "Loghub: A Large Collection of System Log Datasets for AI-driven Log
Analytics", ISSRE 2023, https://github.com/logpai/loghub) holds, per system,
`<System>/<System>_2k.log` and `<System>/<System>_2k.log_structured.csv`, whose `Level` column is
the human-checked level of each line. Its licence grants use for research or academic work, so
the lines are not copied into this repository: this script reads a checkout.

Each line becomes a filebeat 8 event, goes through the indexer's own transform (decode, route
with structured parsing on, encode) and the stored document is read back. Per system it prints:
lines, lines whose corpus level is set, agreement (our `log.level` is the corpus level spelled
as our table spells it: lower case, logcat's letters as android.util.Log names), missed (none
read), wrong (another level read: the target is 0 everywhere), and altered (the stored
`message` is not the line byte for byte: the target is 0). A second table shows the systems
whose corpus has no level: every level read there is listed on standard error, for a look.

One preparation, named in the table: loghub prefixed each OpenStack line with the name of the
file it came from (its `Logrecord` column, `nova-api.log.1.2017-05-16_13:53:08 `); the line
oslo.log wrote is what follows, and that is what is fed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import orjson

from indexer.encode import ingested_field
from indexer.route import Router
from indexer.settings import ParsingSettings, RoutingSettings
from indexer.transform import transform

# The systems whose structured file has a level column (Linux's `Level` column holds the host
# name, not a level).
SYSTEMS = (
    "Android", "Apache", "BGL", "HDFS", "Hadoop", "OpenStack", "Spark", "Windows", "Zookeeper",
)  # fmt: skip
# The layout each system writes, as the README's "Structured lines" names it ("-" when none of
# the layouts there).
LAYOUTS = {
    "Android": "logcat threadtime",
    "Apache": "Apache httpd error log",
    "BGL": "- (Blue Gene/L RAS records)",
    "HDFS": "log4j `yyMMdd HHmmss pid LEVEL`",
    "Hadoop": "log4j `<ISO time> LEVEL [thread]`",
    "OpenStack": "oslo.log",
    "Spark": "log4j `yy/MM/dd HH:mm:ss LEVEL`",
    "Windows": "Windows CBS",
    "Zookeeper": "log4j `<time> - LEVEL [thread]`",
}
# loghub's systems without a level column: what is read there is a level where the corpus
# has none (each is shown, for a look).
WITHOUT = ("HPC", "HealthApp", "Linux", "Mac", "OpenSSH", "Proxifier", "Thunderbird")
_LOGCAT = {"V": "verbose", "D": "debug", "I": "info", "W": "warn", "E": "error", "F": "fatal"}
PATH = "/data/logs/corpus/{app}/{app}-0/log/app.log"


def expected(system: str, level: str) -> str:
    """The corpus level as our `log.level` spells it."""
    return _LOGCAT[level] if system == "Android" else level.lower()


def line_of(system: str, line: str, row: dict[str, str]) -> str:
    if system == "OpenStack":
        prefix = row["Logrecord"] + " "
        if line.startswith(prefix):
            return line[len(prefix) :]
    return line


def measure(root: Path, system: str) -> dict[str, int]:
    folder = root / system
    lines = (folder / f"{system}_2k.log").read_text(encoding="utf-8").splitlines()
    with (folder / f"{system}_2k.log_structured.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(lines):
        sys.exit(f"{system}: {len(lines)} lines but {len(rows)} structured rows")
    router = Router(RoutingSettings(), ParsingSettings())
    now = time.time()
    ingested = ingested_field(now)
    path = PATH.format(app=system.lower())
    counts = dict.fromkeys(("lines", "levels", "agree", "missed", "wrong", "altered"), 0)
    for offset, (raw, row) in enumerate(zip(lines, rows, strict=True)):
        line = line_of(system, raw, row)
        value = orjson.dumps(
            {
                "@timestamp": "2026-12-01T12:00:00.000Z",
                "message": line,
                "log": {"offset": offset, "file": {"path": path}},
            }
        )
        _, body, _ = transform(router, value, "corpus", 0, offset, now, ingested)
        document = orjson.loads(body.split(b"\n")[1])
        read = document.get("log", {}).get("level")
        counts["lines"] += 1
        counts["altered"] += document["message"] != line
        if system in WITHOUT:
            if read is not None:
                counts["wrong"] += 1
                print(f"  read: {system} {read!r}: {line[:100]}", file=sys.stderr)
            continue
        truth = row.get("Level", "")
        if not truth:
            continue
        counts["levels"] += 1
        if read is None:
            counts["missed"] += 1
        elif read == expected(system, truth):
            counts["agree"] += 1
        else:
            counts["wrong"] += 1
            print(f"  wrong: {system} {truth!r} read {read!r}: {line[:100]}", file=sys.stderr)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loghub", type=Path, help="a checkout of github.com/logpai/loghub")
    args = parser.parse_args()
    print("| system | layout | lines | with a level | agreement | missed | wrong | altered |")
    print("|---|---|---|---|---|---|---|---|")
    for system in SYSTEMS:
        c = measure(args.loghub, system)
        share = 100 * c["agree"] / c["levels"] if c["levels"] else 0.0
        print(
            f"| {system} | {LAYOUTS[system]} | {c['lines']:,} | {c['levels']:,} | "
            f"{c['agree']:,} ({share:.1f}%) | {c['missed']:,} | {c['wrong']:,} | {c['altered']} |"
        )
    print()
    print("| system (no level in the corpus) | lines | levels read | altered |")
    print("|---|---|---|---|")
    for system in WITHOUT:
        c = measure(args.loghub, system)
        print(f"| {system} | {c['lines']:,} | {c['wrong']:,} | {c['altered']} |")


if __name__ == "__main__":
    main()
