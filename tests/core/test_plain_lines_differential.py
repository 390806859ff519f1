"""The native plain-line reader (rust/indexer-core/src/plain.rs) against `indexer/structured.py`.

Three probes of the native module (`_core._probe_*`, test-only) answer what the reference's
private steps answer, byte for byte, or decline (None):

- `_probe_digit_start(message)`: the first branch of `LineParser.parse` for a digit-led line
  (`_ISO_LEVEL`, `_TAIL`, `level=`, `_iso`), reproduced here by `reference_digit_start`;
- `_probe_plain(body, ingest)`: `_plain` then the `level=` fallback, the time through
  `normalize` (`reference_plain`);
- `_probe_normalize(text)`: `LineParser.normalize` with `naive_time_zone` UTC.

Inputs: every line of tests/data/structured_levels.tsv (none may be declined), lines generated
per layout (random level words and cases, times of every shape with out-of-range values,
year-less times around a year's end, truncations, inserted bytes and Unicode) and random text.
Declines are counted: on generated ASCII lines only the declines the boundary documents (a
line's own time that does not normalize, a `level=` word outside the native table) are
expected, and the rest must stay under `ASCII_DECLINE_BOUND`.
"""

from __future__ import annotations

import random
import re
import string
from calendar import timegm
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("indexer_core")

import indexer_core._core as native_module

from bench.plain_lines import PARSER, RAISES, reference_digit_start
from indexer.structured import _LEVELS, _level_key

TSV = Path(__file__).parent.parent / "data" / "structured_levels.tsv"
# Fixed Kafka times (never today): mid-year, and both sides of a year's end, so that year-less
# times (syslog, klog, logcat) are placed in the year before, the same year and the year after.
INGESTS = [
    timegm((2026, 11, 26, 12, 0, 0)) + 0.0,
    timegm((2027, 1, 3, 8, 30, 0)) + 0.25,
    timegm((2026, 12, 30, 23, 59, 59)) + 0.999,
    timegm((2026, 6, 1, 0, 0, 0)) + 0.0,
]
# Share of generated ASCII lines the native reader may decline beyond the documented declines.
ASCII_DECLINE_BOUND = 0.002

probe_digit_start: Callable[[str], Any] = native_module._probe_digit_start
probe_plain: Callable[[str, float], Any] = native_module._probe_plain
probe_normalize: Callable[[str], Any] = native_module._probe_normalize

UNPADDED_YEAR = re.compile(r"[0-9]{1,3}-")


def reference_plain(body: str, ingest: float) -> tuple[str | None, str | None, bool] | str:
    """`_plain` and `_level_key` as `_other` runs them: (level, normalized own time, whether an
    own time was found that does not normalize), or RAISES."""
    try:
        level, own = PARSER._plain(body, body[:1], ingest)
        if level is None and "level=" in body:
            level = _level_key(body)
        time = None if own is None else PARSER.normalize(own)
        return level, time, own is not None and time is None
    except Exception:
        return RAISES


def reference_normalize(text: str) -> str | None:
    try:
        return PARSER.normalize(text)
    except Exception:
        return RAISES


# What `_level_key` may return that the native level tables hold (else the native declines).
NATIVE_WORDS = set(_LEVELS) | {
    "silly", "trce", "dbug", "fail", "assert", "any", "dpanic", "unknown", "success", "off",
    "all", "default", "none", "log", "config", "warnings", "errors",
}  # fmt: skip


def documented(level: str | None, time: str | None) -> bool:
    """The declines plain.rs documents, which must be declines (any answer would be wrong or
    platform-dependent): a `level=` word outside the native tables, a time shifted by its zone
    to a year before 1000 (`strftime("%Y")` writes it unpadded on glibc: `999-…`)."""
    return (level is not None and level not in NATIVE_WORDS) or (
        time is not None and UNPADDED_YEAR.match(time) is not None
    )


class Tally:
    """Declines counted by kind over a run of comparisons."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def check_digit_start(self, message: str) -> None:
        expected = reference_digit_start(message)
        got = probe_digit_start(message)
        self.counts["digit_start"] += 1
        if not isinstance(expected, str) and documented(expected[1], expected[2]):
            assert got is None, (message, got, expected)
            self.counts["digit_start declined (documented)"] += 1
            return
        if got is None:
            self.counts["digit_start declined" + self._kind(message, expected)] += 1
            return
        assert expected != RAISES, (message, got)
        assert got == expected, (message, got, expected)

    def check_plain(self, body: str, ingest: float) -> None:
        expected = reference_plain(body, ingest)
        got = probe_plain(body, ingest)
        self.counts["plain"] += 1
        if expected != RAISES and not isinstance(expected, str):
            level, time, unnormalized = expected
            if unnormalized or documented(level, time):
                # An own time that does not normalize (the caller could not tell it from none)
                # must be declined too.
                assert got is None, (body, got, expected)
                self.counts["plain declined (documented)"] += 1
                return
        if got is None:
            self.counts["plain declined" + self._kind(body, expected)] += 1
            return
        assert expected != RAISES, (body, got)
        assert got == expected[:2], (body, ingest, got, expected)

    def check_normalize(self, text: str) -> None:
        expected = reference_normalize(text)
        got = probe_normalize(text)
        self.counts["normalize"] += 1
        if expected != RAISES and documented(None, expected):
            assert got is None, (text, got, expected)
            self.counts["normalize declined (documented)"] += 1
            return
        if got is None:
            self.counts["normalize declined" + self._kind(text, expected)] += 1
            return
        assert expected != RAISES, (text, got)
        assert got == (expected,), (text, got, expected)

    @staticmethod
    def _kind(text: str, expected: object) -> str:
        if expected == RAISES:
            return " (reference raises)"
        return "" if text.isascii() else " (non-ASCII)"

    def unexplained(self, kind: str) -> int:
        return self.counts[f"{kind} declined"]


# ---------------------------------------------------------------------------------------------
# Generated lines, per layout. One `random.Random` drives each, so that hypothesis (through
# `st.randoms`) and the seeded corpus below share the generator.

WORDS = [
    *sorted(_LEVELS),
    "INFOrmix", "Perf", "foo", "note", "ANY", "silly", "trce", "dbug", "fail", "I", "W", "E",
    "F", "V", "D", "A", "X", "trace9", "trace0", "informational", "DEBUGGING", "ab", "x1",
    "WARNINGS", "Error", "eRRor", "dpanic", "assert", "zz",
]  # fmt: skip
ODD = ["\u00e9", "\u0663", "\u00b2", "\x85", "\xa0", "\u2003", "\x1c", "\x1f", "\t", "\n", "\r"]
ODD += ["\x00", "\u00c9", "\U0001f600", " ", "]", "[", ":", "|", "(", "-", "Z", "+", ".", ","]


def word(r: random.Random) -> str:
    w = r.choice(WORDS)
    case = r.random()
    if case < 0.35:
        return w.upper()
    if case < 0.6:
        return w.lower()
    if case < 0.7:
        return w.title()
    return w


def num(r: random.Random, width: int, lo: int, hi: int) -> str:
    """A `width`-digit number, in lo..hi mostly, any value sometimes (out of range)."""
    value = r.randint(lo, hi) if r.random() < 0.93 else r.randint(0, 10**width - 1)
    return str(value).zfill(width)


def fraction(r: random.Random, seps: str = ".,", most: int = 10) -> str:
    if r.random() < 0.35:
        return ""
    return r.choice(seps) + "".join(r.choice(string.digits) for _ in range(r.randint(0, most)))


def clock(r: random.Random, frac: bool = True) -> str:
    base = f"{num(r, 2, 0, 23)}:{num(r, 2, 0, 59)}:{num(r, 2, 0, 59)}"
    return base + (fraction(r) if frac else "")


def zone(r: random.Random) -> str:
    return r.choice(
        ["", "", "", "Z", "+01:00", "-05:30", "+0100", "-0530", " +0000", " -07:00", "+1",
         "+24:00", "-23:59", "+99:99", "z", "UTC", " UTC", " Z", "+05:3", "-1200", "+14"]
    )  # fmt: skip


def year(r: random.Random) -> str:
    return r.choice(
        ["2026", "2027", "1999", "2000", "9999", "0001", "0999", str(r.randint(0, 9999)).zfill(4)]
    )


def iso(r: random.Random, separators: str = "-/", tees: str = "T ") -> str:
    sep = r.choice(separators)
    sep2 = sep if r.random() < 0.9 else r.choice(separators)
    date = f"{year(r)}{sep}{num(r, 2, 1, 12)}{sep2}{num(r, 2, 1, 31)}"
    return f"{date}{r.choice(tees)}{clock(r)}{zone(r)}"


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def month(r: random.Random) -> str:
    return r.choice(MONTHS) if r.random() < 0.95 else r.choice(["Dex", "JAN", "jan", "Decimal"])


def tail(r: random.Random) -> str:
    """What may follow a time: a separator, perhaps a pid or thread, a level, some text."""
    sep = r.choice(
        [" ", "  ", ", ", "\t", " - ", " - shop.db - ", "|", " " * r.randint(1, 45), ",",
         " - a]b - ", " - " + "n" * r.randint(195, 205) + " - "]
    )  # fmt: skip
    middle = r.choice(
        ["", "", f"{r.randint(0, 10**r.randint(1, 12))} ", f"{r.randint(1, 99999)}  {r.randint(1, 9999)}  ",
         f"[{r.choice(['main', 'ERROR', 'pool-1 thread', 'x' * r.randint(75, 85), ''])}] ",
         "[" + word(r) + "] "]
    )  # fmt: skip
    level = word(r)
    ending = r.choice(["", " ", ": ", ":", "|", ",", "/", "(", "]", "] x", " x", "x", "1 ", "3"])
    text = r.choice(["", "started", "level=warn msg", "a level=" + word(r), "\u00e9t\u00e9"])
    return sep + middle + r.choice(["", "["]) + level + ending + text


def layout_line(r: random.Random) -> str:  # noqa: PLR0911 (one layout per return)
    kind = r.randrange(22)
    if kind == 0:
        return iso(r, "-", "T ") + tail(r)
    if kind == 1:
        return iso(r) + tail(r)
    if kind == 2:
        return f"{num(r, 2, 0, 99)}/{num(r, 2, 1, 12)}/{num(r, 2, 1, 31)} {clock(r)}{tail(r)}"
    if kind == 3:
        return f"{num(r, 6, 200101, 291231)} {num(r, 6, 0, 235959)}{tail(r)}"
    if kind == 4:  # logcat threadtime and time
        stamp = f"{num(r, 2, 1, 12)}-{num(r, 2, 1, 31)} {clock(r, False)}.{num(r, 3, 0, 999)}"
        letter = r.choice("VDIWEFAX")
        if r.random() < 0.5:
            return f"{stamp}  {r.randint(1, 9999)}  {r.randint(1, 9999)} {letter} Tag: text"
        return f"{stamp} {letter}/Tag( {r.randint(1, 9999)}): text" + tail(r)
    if kind == 5:  # Tomcat
        return f"{num(r, 2, 1, 31)}-{month(r)}-{year(r)} {clock(r)}{tail(r)}"
    if kind == 6:  # a time of day alone
        return clock(r) + tail(r)
    if kind == 7:  # TTCC
        return f"{r.randint(0, 10 ** r.randint(1, 13))} [main] {word(r)}  c.e.Shop - x"
    if kind == 8:
        return f"[{word(r)}]" + r.choice(["", " disk full", ":x", "|", "x", "\n"])
    if kind == 9:  # Apache httpd
        frac = fraction(r, ".", 7)
        module = r.choice(["", "core:", "ssl:", "mod_x1:", "a" * 41 + ":"])
        return (
            f"[{r.choice(['Tue', 'Sun', 'TUE', 'tue'])} {month(r)} {num(r, 2, 1, 31)} "
            f"{clock(r, False)}{frac} {year(r)}] [{module}{word(r).lower()}] x"
        )
    if kind == 10:  # Serilog console
        return f"[{clock(r)} {r.choice(['INF', 'WRN', 'ERR', 'FTL', 'inf', 'INFO'])}] x"
    if kind == 11:  # pino-pretty, gunicorn, Flask
        stamp = r.choice([clock(r), iso(r, "-", "T ")]) + zone(r)
        pid = r.choice(["", f" [{r.randint(0, 10**11)}]"])
        return f"[{stamp}]{pid} {r.choice(['', '['])}{word(r)}{r.choice(['', ']'])}" + r.choice(
            [" (42): x", " in app:", "", ":", "]x", "x"]
        )
    if kind == 12:  # klog
        return (
            f"{r.choice('IWEFX')}{num(r, 2, 1, 12)}{num(r, 2, 1, 31)} {clock(r, False)}."
            f"{num(r, 6, 0, 999999)}{r.choice(['', '1'])}       1 controller.go:42] Synced"
        )
    if kind == 13:  # Ruby Logger
        pid = r.choice(["", f" #{r.randint(0, 10**11)}", " #"])
        spaces = " " * r.randint(0, 7)
        return f"{r.choice('DIWEFAX')}, [{iso(r, '-', 'T')}{pid}]{spaces}{word(r)} -- : x"
    if kind == 14:  # logcat brief
        tag = r.choice(["ActivityManager", "", "a b", "x" * r.randint(98, 102), "T\u00e9"])
        return f"{r.choice('VDIWEFAX')}/{tag}({' ' * r.randint(0, 10)}{r.randint(0, 10**11)}): x"
    if kind == 15:  # syslog as files keep it
        day = r.choice([f"{r.randint(1, 9):2d}", num(r, 2, 1, 31)])
        host = r.choice(["node-1", "h" * r.randint(250, 260), ""])
        prog = r.choice(["NetworkManager[812]", "su", "sshd(pam_unix)[19939]", "x[", "p" * 101])
        level = r.choice([f"<{word(r).lower()}>", f"[{word(r)}]", f"{word(r)}:", word(r)])
        return f"{month(r)} {day} {clock(r, False)} {host} {prog}: {level}  rest"
    if kind == 16:  # an upper-case word, a sentence
        return word(r) + r.choice([": x", ":root:x", " x", "", "|x", "ing x", "\n"])
    if kind == 17:  # syslog with PRI
        pri = str(r.randint(0, 999)).zfill(r.randint(1, 3))
        rest = r.choice(
            [f"1 {iso(r, '-', 'T')} node-1 app - x", f"{month(r)} {r.randint(1, 31):2d} {clock(r, False)} x", "x", ""]
        )  # fmt: skip
        return f"<{pri}>{rest}"
    if kind == 18:  # winston, .NET
        return word(r).lower() + r.choice([": x", ":", ":\n", ":x", " x", ": Microsoft[14]"])
    if kind == 19:  # an early `level=`
        prefix = r.choice(
            ["", "x ", "\t", "msg=a ", "ts=1 ", "x" * r.randint(240, 260) + " ",
             r.choice(["\u00e9", "\U0001f600", "\u4e2d"]) * r.randint(240, 260) + " ",
             "x" * r.randint(1000, 1030) + " "]
        )  # fmt: skip
        quote = r.choice(["", '"'])
        return f"{prefix}level={quote}{word(r)}{r.choice(['', ' x', '1', '_', quote])}"
    if kind == 20:  # s6-log-like and 29-character times
        return f"2026-12-01 10:00:00.{num(r, 9, 0, 10**9 - 1)}  " + r.choice(
            ["INFO x", "x", "{}", "2026-12-01 10:00:00 WARN x"]
        )
    alphabet = string.printable
    return "".join(r.choice(alphabet) for _ in range(r.randint(0, 60)))


def mutate(r: random.Random, line: str) -> str:
    """Truncate, insert odd characters, or leave the line as it is."""
    roll = r.random()
    if roll < 0.15 and line:
        return line[: r.randrange(len(line))]
    if roll < 0.35:
        where = r.randint(0, len(line))
        return line[:where] + r.choice(ODD) + line[where:]
    if roll < 0.4:
        return line + "\n"
    return line


def check_line(tally: Tally, line: str, ingest: float) -> None:
    if line[:1].isdigit():
        tally.check_digit_start(line)
    tally.check_plain(line, ingest)


# ---------------------------------------------------------------------------------------------


def tsv_lines() -> list[str]:
    lines = []
    for row in TSV.read_text(encoding="utf-8").splitlines():
        if row and not row.startswith("#"):
            lines.append(row.split("\t", 2)[2])
    return lines


def test_every_tsv_line_is_taken_and_equal() -> None:
    tally = Tally()
    lines = tsv_lines()
    assert len(lines) > 80
    for line in lines:
        for ingest in INGESTS:
            check_line(tally, line, ingest)
    declined = sum(n for k, n in tally.counts.items() if "declined" in k)
    assert declined == 0, tally.counts


def test_tsv_lines_through_parse_agree_with_the_probes() -> None:
    """The helpers above reproduce `parse` itself: for each tsv line that `parse` reads as a
    plain line (no JSON, no logfmt, no s6-log prefix), the native answers composed as the
    other side of the boundary composes them give `parse`'s level and returned time."""
    compared = 0
    for line in tsv_lines():
        if line[:1] == "{" or (line[:1].isalpha() and "=" in line) or line[19:20] == ".":
            continue
        for ingest in INGESTS:
            event: dict[str, Any] = {"message": line}
            stamp = PARSER.parse(event, ingest)
            level = event.get("log", {}).get("level")
            start = probe_digit_start(line) if line[:1].isdigit() else ("other", None, None)
            if start[0] == "iso":
                got = start[1:]
            elif start[0] == "no_layout":
                got = (None, None)
            else:
                got = probe_plain(line, ingest)
            assert got == (level, stamp), (line, got, level, stamp)
            compared += 1
    assert compared > 250


def test_generated_lines_seeded_corpus() -> None:
    """20,000 generated lines per kind of check, the decline rates asserted."""
    r = random.Random(20261206)
    tally = Tally()
    ascii_lines = 0
    for _ in range(20_000):
        line = mutate(r, layout_line(r))
        ascii_lines += line.isascii()
        check_line(tally, line, r.choice(INGESTS))
    counts = tally.counts
    print(dict(counts))
    assert counts["plain"] == 20_000
    assert tally.unexplained("plain") <= ASCII_DECLINE_BOUND * ascii_lines, counts
    assert tally.unexplained("digit_start") <= ASCII_DECLINE_BOUND * ascii_lines, counts
    # The generator reaches every kind of answer.
    assert counts["plain declined (documented)"] > 0


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.randoms(use_true_random=False), st.sampled_from(INGESTS))
def test_generated_lines_are_declined_or_equal(r: random.Random, ingest: float) -> None:
    check_line(Tally(), mutate(r, layout_line(r)), ingest)


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=80), st.floats(min_value=0, max_value=253402300799.999))
def test_random_text_is_declined_or_equal(text: str, ingest: float) -> None:
    tally = Tally()
    check_line(tally, text, ingest)
    if text:
        tally.check_digit_start(text)
    tally.check_normalize(text)


@settings(max_examples=1000, deadline=None)
@given(
    st.text(alphabet="0123456789:-/T .,Z+zUTC\t\n", max_size=40),
    st.floats(min_value=0, max_value=253402300799.999),
)
def test_time_alphabet_text_is_declined_or_equal(text: str, ingest: float) -> None:
    tally = Tally()
    check_line(tally, text, ingest)
    tally.check_normalize(text)
    if text:
        tally.check_digit_start(text)


@settings(max_examples=800, deadline=None)
@given(st.randoms(use_true_random=False))
def test_generated_times_normalize_equal(r: random.Random) -> None:
    text = r.choice([iso(r), iso(r, "-", "T"), clock(r), iso(r) + r.choice(ODD)])
    tally = Tally()
    tally.check_normalize(mutate(r, text) if r.random() < 0.2 else text)
    assert tally.unexplained("normalize") == 0 or not text.isascii()


def test_normalize_edges() -> None:
    tally = Tally()
    for text in [
        "2026-12-01T10:00:00.123Z", "2026-12-01T10:00:60.123Z", "abcdefghijTklmnopq59.uvwZ",
        "2026-12-01 10:00:00", "2026/12/01T10:00:00,5", "2026-12-01 10:00:00 +05:30",
        "2026-12-01 10:00:00+0530", "2026-12-01 10:00:00-05", "2026-02-29 10:00:00+01:00",
        "2024-02-29 10:00:00+01:00", "0001-01-01 00:00:00+01:00", "9999-12-31 23:59:59-01:00",
        "1000-01-01 00:30:00+01:00", "2026-12-01 10:00:00 UTC", "2026-12-01 10:00:00\n",
        "2026-12-01 10:00:00\x1c", "2026-12-01 10:00:00.1234567890", "2026-12-01 10:00:00+24:00",
        "2026-12-01 10:00:00+23:99", "0000-01-01 00:00:00Z", "2026-13-45 99:99:59",
        "2026-12-01 10:00:00+05:3", "2026-12-01 10:00:00.", "",
    ]:  # fmt: skip
        tally.check_normalize(text)
    assert tally.unexplained("normalize") <= 2, tally.counts  # year 1 / 9999 with an offset


def test_every_character_python_reads_as_a_digit_is_declined_where_it_leads() -> None:
    """Where the native reader takes a non-ASCII character for no digit (a line's first
    character, klog's second), `char::is_numeric` must cover `str.isdigit` and `\\d`."""
    digit = re.compile(r"\d")
    digits = [
        chr(cp)
        for cp in range(0x80, 0x110000)
        if not 0xD800 <= cp <= 0xDFFF and (chr(cp).isdigit() or digit.match(chr(cp)))
    ]
    assert len(digits) > 700
    for c in digits:
        assert probe_digit_start(c + "6-12-01T10:00:00Z INFO x") is None, hex(ord(c))
        assert probe_plain(c + "6/12/01 10:10:40 INFO x", INGESTS[0]) is None, hex(ord(c))
        assert probe_plain("E" + c + "201 10:00:00.123456 x", INGESTS[0]) is None, hex(ord(c))
    # and other scripts' words lead no layout, as in the reference
    for line in ["\u00e9t\u00e9 level=warn", "\u041e\u0448\u0438\u0431\u043a\u0430", "E\u00e9"]:
        Tally().check_plain(line, INGESTS[0])
        assert probe_plain(line, INGESTS[0]) is not None


TSV_LINES = tsv_lines()


@settings(max_examples=1500, deadline=None)
@given(st.randoms(use_true_random=False), st.sampled_from(INGESTS))
def test_mutated_tsv_lines_are_declined_or_equal(r: random.Random, ingest: float) -> None:
    """Real layouts one to four ASCII edits away (substitutions, insertions, deletions, cuts):
    no ASCII line is declined beyond the documented declines."""
    line = r.choice(TSV_LINES)
    for _ in range(r.randint(1, 4)):
        at = r.randint(0, len(line))
        roll = r.random()
        if roll < 0.4:
            line = line[:at] + r.choice(string.printable + "\x1c") + line[at + 1 :]
        elif roll < 0.7:
            line = line[:at] + r.choice(string.printable + "\x1c") + line[at:]
        elif roll < 0.9:
            line = line[:at] + line[at + 1 :]
        else:
            line = line[:at]
    tally = Tally()
    check_line(tally, line, ingest)
    if line:
        tally.check_digit_start(line)
    assert tally.unexplained("plain") == tally.unexplained("digit_start") == 0, line
