"""Progress of a replay while it runs: what was read, against how much there is, how fast, and
how long is left.

On a terminal it is one line on stderr, rewritten in place every `TERMINAL_SECONDS`; otherwise
(a Job's log, a pipe) it is a structured `replay_progress` log line every `LOG_SECONDS`, so an
operator following the logs sees the same figures. Nothing is written to stdout: the summary
(and `--json`) stays the only thing there.

Contract: not thread-safe (the replay's own loop calls it); `update` costs a clock reading when
nothing is due, so it may be called per message; `done` ends the terminal line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

import structlog

log = structlog.get_logger(__name__)

TERMINAL_SECONDS = 0.5
LOG_SECONDS = 10.0


class Progress:
    def __init__(
        self,
        what: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`what` names the units ("messages", "dead letters")."""
        self._what = what
        self._stream = stream if stream is not None else sys.stderr
        self._terminal = self._stream.isatty()
        self._every = TERMINAL_SECONDS if self._terminal else LOG_SECONDS
        self._clock = clock
        self._started = clock()
        self._next = self._started + self._every
        self._shown = False

    def update(
        self,
        done: int,
        total: int | None,
        partitions: dict[str, tuple[int | None, int | None]] | None = None,
        force: bool = False,
    ) -> None:
        """`done` of `total` (None: not known yet); `partitions`: name → (position, end)."""
        now = self._clock()
        if not force and now < self._next:
            return
        self._next = now + self._every
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        left = None
        if total is not None and rate > 0:
            left = max(0.0, (total - done) / rate)
        if self._terminal:
            of = f" of {total:,}" if total is not None else ""
            eta = f", about {left:.0f} s left" if left is not None else ""
            line = f"\r{self._what}: {done:,}{of} read, {rate:,.0f}/s{eta}"
            self._stream.write(line.ljust(72))
            self._stream.flush()
            self._shown = True
            return
        log.info(
            "replay_progress",
            unit=self._what,
            read=done,
            total=total,
            per_second=round(rate, 1),
            seconds_left=None if left is None else round(left),
            partitions={
                name: {"position": position, "end": end}
                for name, (position, end) in (partitions or {}).items()
            },
        )

    def done(self) -> None:
        """End the terminal line, so the summary starts on a line of its own."""
        if self._terminal and self._shown:
            self._stream.write("\n")
            self._stream.flush()
