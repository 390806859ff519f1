"""`indexer logs` without a cluster: the level ladder covers every word the parser keeps, targets
that could widen a read are refused, and colour goes to terminals only."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from indexer import structured
from indexer.logs.output import formatter
from indexer.logs.query import (
    LEVEL_RANKS,
    LogQuery,
    QueryError,
    Target,
    levels_at_or_above,
    parse_duration,
)


def test_every_level_the_parser_keeps_has_a_rank() -> None:
    kept = set(structured._LEVELS) | set(structured._KLOG.values())
    kept |= set(structured._NUMERIC.values())
    kept |= set(structured._LOGCAT.values()) | set(structured._DOTNET.values())
    kept |= set(structured._SYSLOG) | {word.lower() for word in structured._RUBY}
    assert kept <= LEVEL_RANKS.keys(), kept - LEVEL_RANKS.keys()


def test_a_level_reads_every_spelling_at_or_above_it() -> None:
    warn = levels_at_or_above("WARN")
    assert {"warn", "warning", "wrn", "error", "err", "fatal", "panic", "crit"} <= set(warn)
    assert not {"info", "notice", "debug", "trace"} & set(warn)
    assert levels_at_or_above("trace") == sorted(LEVEL_RANKS)
    with pytest.raises(QueryError, match="unknown level"):
        levels_at_or_above("loud")


@pytest.mark.parametrize(
    "text", ["", "a/b/c/d", "sh*p", "shop,other", "Shop", "shop//pod", "shop/ca*rt", "shop/-x"]
)
def test_a_target_that_could_widen_the_read_is_refused(text: str) -> None:
    with pytest.raises(QueryError):
        Target.parse(text)


def test_an_app_reads_its_own_days_and_the_shared_index_only() -> None:
    query = LogQuery(Target.parse("shop/Cart-API"))
    assert query.indices == "k8s-logs-shop_cart-api-*,k8s-logs-shop__shared-*"
    assert "k8s-logs-shop_cart-api-????.??.??" in str(query.filters())
    assert LogQuery(Target.parse("shop")).indices == "k8s-logs-shop_*"


def test_durations() -> None:
    assert [parse_duration(t) for t in ("30s", "10m", "2h", "1d", "500ms")] == [
        30,
        600,
        7200,
        86400,
        0.5,
    ]
    with pytest.raises(QueryError):
        parse_duration("ten minutes")


def test_colour_marks_levels_only_when_asked() -> None:
    hit = {"_source": {"message": "boom", "log": {"level": "error"}}}
    assert formatter("raw", colour=False)(hit) == "boom"
    assert formatter("raw", colour=True)(hit) == "\x1b[31mboom\x1b[0m"
    assert formatter("raw", colour=True)({"_source": {"message": "plain"}}) == "plain"


def _auto_colour(stdout: int, **env: str) -> str:
    code = "from indexer.logs.cli import _colour; print(_colour('auto'), file=sys.stderr)"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; " + code],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={k: v for k, v in {**os.environ, **env}.items() if v},
        text=True,
        check=True,
    )
    return result.stderr.strip()


def test_auto_colour_is_on_for_a_terminal_and_off_for_a_pipe_or_no_color() -> None:
    leader, terminal = os.openpty()
    try:
        assert _auto_colour(terminal, NO_COLOR="") == "True"
        assert _auto_colour(terminal, NO_COLOR="1") == "False"
    finally:
        os.close(leader)
        os.close(terminal)
    assert _auto_colour(subprocess.PIPE, NO_COLOR="") == "False"
