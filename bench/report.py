"""Figures: medians with min-max over runs, the ratios, the targets, and a plain-text table."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.measure import Result

BARE = "bare loop"
LEAN = "lean bare loop"
ONE = "indexer x1"
TWO = "indexer x2"


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(statistics.median(values), min(values), max(values), len(values))

    def show(self, fmt: str = "{:,.0f}") -> str:
        if self.runs == 1:
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} ({fmt.format(self.low)}-{fmt.format(self.high)})"


@dataclass(frozen=True)
class Target:
    what: str
    goal: str
    measured: str
    met: bool | None


def spread(results: list[Result], value: Callable[[Result], float | None]) -> Spread | None:
    return Spread.of([v for r in results if (v := value(r)) is not None])


def paired(by_name: dict[str, list[Result]], top: str, bottom: str) -> Spread | None:
    """The ratio top ÷ bottom run by run (run i of each was measured back to back)."""
    pairs = zip(by_name.get(top, []), by_name.get(bottom, []), strict=False)
    return Spread.of([a.rate / b.rate for a, b in pairs])


def table(by_name: dict[str, list[Result]]) -> str:
    header = ["measurement", "events/s", "CPU µs/event", "peak RSS MB", "docs/bulk", "paused"]
    rows: list[Sequence[str]] = [[*header, "checks"]]
    for name, results in by_name.items():
        if name.startswith("latency"):
            continue
        rate, cpu = spread(results, lambda r: r.rate), spread(results, lambda r: r.cpu_us_per_event)
        rss, docs = (
            spread(results, lambda r: r.peak_rss_mb),
            spread(results, lambda r: r.docs_per_bulk),
        )
        paused = spread(results, lambda r: _percent(r.extra.get("paused_share")))
        problems = sorted({c for r in results for c in r.checks})
        rows.append(
            (
                name,
                rate.show() if rate else "",
                cpu.show("{:.2f}") if cpu else "",
                rss.show() if rss else "",
                docs.show() if docs else "",
                paused.show("{:.0f}%") if paused else "",
                "; ".join(problems) if problems else "ok",
            )
        )
    return _render(rows)


def core_rows(by_name: dict[str, list[Result]]) -> list[str]:
    """The indexer x1 drains of each core (`--cores`), the figures' core first."""
    return [
        name
        for name, results in by_name.items()
        if (name == ONE or (name.startswith(ONE + ", ") and name.endswith(" core")))
        and results
        and "core" in results[0].extra
    ]


def cores_table(by_name: dict[str, list[Result]]) -> str:
    """The cores side by side in the same runs: rate and CPU, each ÷ the lean loop's run by
    run, and the share of events the native core declined (left to the reference path)."""
    names = core_rows(by_name)
    if not names:
        return ""
    rows: list[Sequence[str]] = [
        ("indexer x1 on", "events/s", "CPU µs/event", "÷ lean: rate", "÷ lean: CPU", "declined")
    ]
    lean = by_name.get(LEAN, [])
    if lean:
        rate, cpu = spread(lean, lambda r: r.rate), spread(lean, lambda r: r.cpu_us_per_event)
        rows.append(
            ("lean bare loop", rate.show() if rate else "", _show(cpu, "{:.2f}"), "1", "1", "")
        )
    for name in names:
        results = by_name[name]
        rate, cpu = spread(results, lambda r: r.rate), spread(results, lambda r: r.cpu_us_per_event)
        declined = spread(results, lambda r: _percent(r.extra.get("declined_share")))
        rows.append(
            (
                f"{results[0].extra['core']} core" + (" (figures)" if name == ONE else ""),
                rate.show() if rate else "",
                _show(cpu, "{:.2f}"),
                _show(paired(by_name, name, LEAN), "{:.2f}"),
                _show(_paired_value(by_name, name, LEAN, lambda r: r.cpu_us_per_event), "{:.2f}"),
                _show(declined, "{:.2f}%"),
            )
        )
    return _render(rows)


def _show(value: Spread | None, fmt: str) -> str:
    return value.show(fmt) if value else ""


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def stage_table(by_name: dict[str, list[Result]]) -> str:
    results = by_name.get("transform only", [])
    if not results:
        return ""
    rows = [("stage (transform only)", "CPU µs/event")]
    for stage in ("decode", "route", "encode"):
        value = Spread.of([r.extra[f"{stage}_us"] for r in results if f"{stage}_us" in r.extra])
        rows.append((stage, value.show("{:.2f}") if value else ""))
    return _render(rows)


def latency_line(by_name: dict[str, list[Result]]) -> str:
    lines = []
    for name, results in by_name.items():
        if name.startswith("latency"):
            for r in results:
                extra = r.extra
                if extra.get("p50") is None:
                    lines.append(f"{name}: no samples ({'; '.join(r.checks)})")
                    continue
                lines.append(
                    f"{name}: p50 {extra['p50']:.3f} s, p99 {extra['p99']:.3f} s, "
                    f"max {extra['max']:.3f} s, {r.docs_per_bulk:,.0f} docs/bulk"
                    + (f" ({'; '.join(r.checks)})" if r.checks else "")
                )
    return "\n".join(lines)


def targets(by_name: dict[str, list[Result]]) -> list[Target]:
    """The goals of issue 16, judged on the medians; ratios to the lean bare loop run by run."""
    out = []
    ratio = paired(by_name, ONE, LEAN)
    one = spread(by_name.get(ONE, []), lambda r: r.rate)
    if ratio and one:
        out.append(
            Target(
                "indexer x1 ÷ lean bare loop, events/s",
                "≥ 1.50",
                f"{ratio.median:.2f} ({one.median:,.0f}/s)",
                ratio.median >= 1.5,
            )
        )
    cpu = _paired_value(by_name, ONE, LEAN, lambda r: r.cpu_us_per_event)
    if cpu:
        out.append(
            Target(
                "CPU per event, indexer x1 ÷ lean bare loop",
                "≤ 0.70",
                f"{cpu.median:.2f}",
                cpu.median <= 0.7,
            )
        )
    first = by_name.get(ONE, [])
    declined = spread(first, lambda r: r.extra.get("declined_share"))
    if declined and first[0].extra.get("core") == "native":
        out.append(
            Target(
                "events the native core declines (bench mix)",
                "< 1%",
                f"{declined.median:.2%}",
                declined.median < 0.01,
            )
        )
    rss = spread(by_name.get(ONE, []), lambda r: r.peak_rss_mb)
    if rss:
        out.append(
            Target(
                "peak RSS draining the backlog",
                "≤ 250 MB",
                f"{rss.high:.0f} MB (max)",
                rss.high <= 250,
            )
        )
    scale = _paired_value(by_name, TWO, ONE, lambda r: r.cpu_us_per_event)
    if scale:
        out.append(
            Target(
                "CPU per event, x2 ÷ x1",
                "≤ 1.05",
                f"{scale.median:.2f}",
                scale.median <= 1.05,
            )
        )
    for name, results in by_name.items():
        if name.startswith("latency") and results and results[0].extra.get("p99") is not None:
            p99 = results[0].extra["p99"]
            out.append(Target(f"p99 latency ({name[8:]})", "≤ 0.3 s", f"{p99:.3f} s", p99 <= 0.3))
    return out


def _paired_value(
    by_name: dict[str, list[Result]],
    top: str,
    bottom: str,
    value: Callable[[Result], float | None],
) -> Spread | None:
    """`value` of top ÷ that of bottom, run by run."""
    pairs = zip(by_name.get(top, []), by_name.get(bottom, []), strict=False)
    return Spread.of([a / b for x, y in pairs if (a := value(x)) and (b := value(y))])


def targets_table(found: list[Target]) -> str:
    rows = [("target", "goal", "measured (median)", "met")]
    rows += [(t.what, t.goal, t.measured, "yes" if t.met else "NO") for t in found]
    return _render(rows)


def ratios(by_name: dict[str, list[Result]]) -> str:
    lines = []
    pairs = [(ONE, LEAN), (TWO, LEAN), (ONE, BARE), (TWO, ONE)]
    pairs += [(ONE, other) for other in core_rows(by_name) if other != ONE]
    for top, bottom in pairs:
        value = paired(by_name, top, bottom)
        if value:
            lines.append(f"{top} ÷ {bottom}: {value.show('{:.2f}')}")
    return "\n".join(lines)


def as_json(
    machine: dict[str, str], by_name: dict[str, list[Result]], settings: dict[str, Any]
) -> dict[str, Any]:
    return {
        "machine": machine,
        "settings": settings,
        "results": {name: [asdict(r) for r in results] for name, results in by_name.items()},
        "targets": [asdict(t) for t in targets(by_name)],
    }


def _render(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
