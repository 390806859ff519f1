"""Where a quoted logfmt value ends: the expression that finds it agrees with the rule read one
character at a time (`_reference`, the scan used before), on every short string over the
characters that matter and on seeded random longer ones, and finds the end of a value made of
`\\"` tokens (the hostile line of bench/parse_cost.py)."""

from __future__ import annotations

import itertools
import random

from indexer.structured import _closing_end


def _reference(line: str, start: int) -> int | None:
    """The rule, one character at a time: a backslash escapes the character after it; the
    closing quote is an unescaped one followed by a space, the end, or a newline at the end."""
    at = start
    while at < len(line):
        if line[at] == "\\":
            at += 2
            continue
        if line[at] == '"':
            after = line[at + 1 : at + 3]
            if after == "" or after[0] == " " or after == "\n":
                return at + 1
        at += 1
    return None


def test_every_short_string_over_the_characters_that_matter() -> None:
    for length in range(6):
        for chars in itertools.product('a \\"\n', repeat=length):
            line = "".join(chars)
            for start in range(length + 1):
                assert _closing_end(line, start) == _reference(line, start), (line, start)


def test_seeded_random_longer_strings() -> None:
    rng = random.Random(25)
    for _ in range(20_000):
        line = "".join(rng.choice('ab  \\\\""\n=') for _ in range(rng.randint(0, 80)))
        start = rng.randint(0, len(line))
        assert _closing_end(line, start) == _reference(line, start), (line, start)


def test_a_value_of_escaped_quotes_ends_at_its_closing_quote() -> None:
    line = 'level=info msg="' + '\\" ' * 20_000 + 'x" next=1'
    start = len('level=info msg="')
    assert _closing_end(line, start) == line.index(" next=1")
    assert _closing_end(line[: -len(" next=1") - 1], start) is None  # never closed
