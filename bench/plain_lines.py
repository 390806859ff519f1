"""The plain-line reader's cost per line, reference against native, for callgrind
(docs/native-core.md, "Plain lines"): every line of tests/data/structured_levels.tsv, `rounds`
times, read as `LineParser.parse` reads a plain line (its first branch for a digit-led line,
else `_plain`, the `level=` fallback and `normalize`), by the Python reference or by the native
core's test probes (`_core._probe_digit_start`, `_core._probe_plain`: the call into the module
and its result tuple included):

    for core in python native; do for n in 0 200; do
      PYTHONHASHSEED=0 PYTHONPATH=. valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python -m bench.plain_lines $core $n
    done; done      # (collected at n - at 0) / (n x 83) = instructions per line

The native reader alone, without Python: `rust/indexer-core/examples/plain_cost.rs`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from indexer.settings import ParsingSettings
from indexer.structured import (
    _DIGIT_THIRD,
    _ISO_LEVEL,
    _LEVELS,
    _TAIL,
    LineParser,
    _level_key,
    _tail_level,
)

NOW = 1_796_126_400.0  # 2026-12-01T12:00:00Z
TSV = Path(__file__).parent.parent / "tests" / "data" / "structured_levels.tsv"
PARSER = LineParser(ParsingSettings(), lambda stamp, ingest: True)


RAISES = "raises"


def reference_digit_start(message: str) -> tuple[str, str | None, str | None] | str:
    """`LineParser.parse`'s first branch for a message whose first character is a digit, as
    the probe answers it; RAISES when the reference raises (parse would answer None)."""
    try:
        if not message[0].isdigit():
            return ("other", None, None)
        if message[4:5] == "-":
            match = _ISO_LEVEL.match(message)
            if match is not None and len(match[1]) != 29:
                word = match[2]
                level: str | None = "" if word is None else word.lower()
                if level not in _LEVELS:
                    level = _tail_level(_TAIL.match(message, match.end(1)), False)
                    if level is None and "level=" in message:
                        level = _level_key(message)
                return ("iso", level, PARSER._iso(match[1]))
        elif message[2:3] not in _DIGIT_THIRD:
            return ("no_layout", None, None)
        return ("other", None, None)
    except Exception:
        return RAISES


def reference(message: str) -> Any:
    """A plain line read as `LineParser.parse` reads it: its first branch for a digit-led line,
    else `_plain`, the `level=` fallback and `normalize`."""
    if message[0].isdigit():
        start = reference_digit_start(message)
        if start == RAISES or start[0] != "other":
            return start
    level, own = PARSER._plain(message, message[0], NOW)
    if level is None and "level=" in message:
        level = _level_key(message)
    return level, None if own is None else PARSER.normalize(own)


def native() -> Callable[[str], Any]:
    import indexer_core._core as module  # only for this core

    digit_start, plain = module._probe_digit_start, module._probe_plain

    def read(message: str) -> Any:
        if message[0].isdigit():
            start = digit_start(message)
            if start is None or start[0] != "other":
                return start
        return plain(message, NOW)

    return read


def main(core: str, rounds: int) -> None:
    rows = TSV.read_text(encoding="utf-8").splitlines()
    lines = [row.split("\t", 2)[2] for row in rows if row and not row.startswith("#")]
    read = reference if core == "python" else native()
    for _ in range(rounds):
        for line in lines:
            read(line)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
