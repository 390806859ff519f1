"""`python -m bench --cores`: which cores run, and the table that puts them beside the lean loop."""

from __future__ import annotations

import pytest

from bench.__main__ import parse_cores
from bench.measure import Result
from bench.report import cores_table, ratios, targets


def _row(name: str, rate: float, cpu: float, core: str | None, declined: float = 0.0) -> Result:
    extra = {} if core is None else {"core": core, "declined_share": declined}
    return Result(name, rate, cpu_us_per_event=cpu, extra=extra)


def test_cores_are_named_once_each_and_the_first_makes_the_figures() -> None:
    assert parse_cores("python") == ["python"]
    assert parse_cores(" python , native ") == ["python", "native"]
    for wrong in ("rust", "native,native", ","):
        with pytest.raises(SystemExit, match="--cores"):
            parse_cores(wrong)


def test_the_cores_table_divides_each_core_by_the_lean_loop_of_the_same_run() -> None:
    by_name = {
        "lean bare loop": [_row("lean bare loop", 100_000, 8.0, None)],
        "indexer x1": [_row("indexer x1", 150_000, 4.0, "native", declined=0.004)],
        "indexer x1, python core": [_row("indexer x1, python core", 70_000, 14.0, "python")],
        "indexer x1, 1% 429s": [_row("indexer x1, 1% 429s", 30_000, 20.0, "native")],
    }
    table = cores_table(by_name).splitlines()
    assert table[0].split() == ["indexer", "x1", "on", "events/s", "CPU", "µs/event", "÷", "lean:",
                                "rate", "÷", "lean:", "CPU", "declined"]  # fmt: skip
    assert table[2].split() == ["lean", "bare", "loop", "100,000", "8.00", "1", "1"]
    assert table[3].split() == ["native", "core", "(figures)", "150,000", "4.00", "1.50", "0.50",
                                "0.40%"]  # fmt: skip
    assert table[4].split() == ["python", "core", "70,000", "14.00", "0.70", "1.75", "0.00%"]
    assert len(table) == 5, "the 429 run is not a core's row"
    assert "indexer x1 ÷ indexer x1, python core: 2.14" in ratios(by_name)
    (declines,) = [t for t in targets(by_name) if "declines" in t.what]
    assert (declines.measured, declines.met) == ("0.40%", True)
