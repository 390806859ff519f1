"""Backoff: retried until success or stop; with `give_up`, the named conditions are raised to the
caller after `attempts` attempts while everything else is still retried."""

from __future__ import annotations

import threading

import pytest

from indexer.cluster import ClusterError
from indexer.indices import IndexNotReady
from indexer.retry import Abandoned, Backoff
from indexer.settings import RetrySettings

FAST = RetrySettings(initial_backoff_seconds=0.001, max_backoff_seconds=0.002)


class _Calls:
    """Raises the given exceptions in turn, then returns "done"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def test_retries_until_the_call_succeeds() -> None:
    calls = _Calls(*[ClusterError(503, None)] * 5)
    assert Backoff(FAST, threading.Event()).call("x", calls) == "done"
    assert calls.count == 6


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_a_named_condition_is_raised_after_that_many_attempts(attempts: int) -> None:
    calls = _Calls(*[IndexNotReady("no room")] * 10)
    with pytest.raises(IndexNotReady):
        Backoff(FAST, threading.Event()).call(
            "x", calls, give_up=(IndexNotReady,), attempts=attempts
        )
    assert calls.count == attempts


def test_other_errors_are_retried_for_ever_even_with_a_give_up_condition() -> None:
    calls = _Calls(*[ClusterError(503, None)] * 8)
    result = Backoff(FAST, threading.Event()).call("x", calls, give_up=(IndexNotReady,), attempts=5)
    assert result == "done" and calls.count == 9


def test_a_stop_abandons_rather_than_giving_up() -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(Abandoned):
        Backoff(FAST, stop).call(
            "x", _Calls(IndexNotReady("x")), give_up=(IndexNotReady,), attempts=3
        )
