"""Retry: how every call to Elasticsearch (and to the dead-letter topic) is repeated.

Exponential backoff with full jitter (tenacity), capped, never giving up on its own: only the
writer's stop event ends it, with `Abandoned`. What is retried is decided here, once: transport
errors, any API error but 413 (the writer splits on 413), and the retryable conditions the
callers raise (`RetryableCondition`). One `retrying` log line at most every few seconds, for
the whole process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ClassVar, TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_random_exponential,
)

from indexer.cluster import ClusterError, ClusterUnavailable
from indexer.settings import RetrySettings

log = structlog.get_logger(__name__)

LOG_EVERY_SECONDS = 5.0
T = TypeVar("T")


class Abandoned(Exception):
    """Stopped before the call succeeded; nothing that depended on it may be committed."""


class RetryableCondition(Exception):
    """Raised by a caller to have its attempt repeated after a backoff."""


class Backoff:
    """Thread-safe. `call(action, fn, *args)` runs `fn` until it succeeds or `stop` is set."""

    # One log throttle for the process, not one per Backoff: every writer, the parking lot and
    # the preparer retry through their own, and an outage must not log once for each of them.
    _log_lock: ClassVar[threading.Lock] = threading.Lock()
    _last_log: ClassVar[float] = 0.0

    def __init__(
        self,
        settings: RetrySettings,
        stop: threading.Event,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        """`wait(seconds)` sleeps between attempts and returns True when stopped meanwhile:
        `stop.wait` unless given (the unit tests pass one that records and returns at once)."""
        self._settings = settings
        self._stop = stop
        self._wait = wait or stop.wait

    def call(
        self,
        action: str,
        fn: Callable[..., T],
        *args: object,
        give_up: tuple[type[Exception], ...] = (),
        attempts: int = 0,
    ) -> T:
        """`action` is a present-tense description for the log ("execute bulk request").

        With `attempts`, an exception of a `give_up` type still raised after that many attempts
        is raised to the caller (which sets the work aside); any other keeps being retried."""
        try:  # the first attempt needs none of the machinery (most calls succeed at once)
            return fn(*args)
        except Exception as exc:
            if not retryable(exc):
                raise
            if attempts == 1 and isinstance(exc, give_up):
                raise
        if self._wait(self._settings.initial_backoff_seconds):
            raise Abandoned("stopped after 1 attempt")

        def stop(state: RetryCallState) -> bool:
            if self._stop.is_set():
                return True
            error = state.outcome.exception() if state.outcome else None
            # tenacity counts from its own first attempt, the second of the call
            return (
                attempts > 0 and state.attempt_number + 1 >= attempts and isinstance(error, give_up)
            )

        def give_up_or_abandon(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            if not self._stop.is_set() and isinstance(error, give_up):
                raise error
            _abandon(state)

        retrying = Retrying(
            retry=retry_if_exception(retryable),
            wait=wait_random_exponential(
                multiplier=self._settings.initial_backoff_seconds,
                max=self._settings.max_backoff_seconds,
            ),
            stop=stop,
            sleep=self._sleep,
            before_sleep=lambda state: self._log(action, state),
            retry_error_callback=give_up_or_abandon,
        )
        return retrying(fn, *args)

    def _sleep(self, seconds: float) -> None:
        self._wait(seconds)  # returns early when stopped

    def _log(self, action: str, state: RetryCallState) -> None:
        now = time.monotonic()
        with Backoff._log_lock:
            if now - Backoff._last_log < LOG_EVERY_SECONDS:
                return
            Backoff._last_log = now
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "retrying",
            action=action,
            attempt=state.attempt_number,
            error=f"{type(error).__name__}: {error}"[:500],
        )


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryableCondition | ClusterUnavailable):
        return True
    return isinstance(exc, ClusterError) and exc.status != 413


def _abandon(state: RetryCallState) -> None:
    raise Abandoned(f"stopped after {state.attempt_number} attempts")
