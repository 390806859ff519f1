"""Cron slots in an explicit time zone: which run is due, and when the next one is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter


class Schedule:
    """A 5-field cron expression read in `timezone`. Times in and out are Unix seconds."""

    def __init__(self, expression: str, timezone: str) -> None:
        self._expression = expression
        self._zone = ZoneInfo(timezone)

    def latest_slot(self, now: float) -> float:
        """The last scheduled time at or before `now`."""
        moment = datetime.fromtimestamp(now, self._zone)
        previous: datetime = croniter(self._expression, moment).get_prev(datetime)
        following: datetime = croniter(self._expression, previous).get_next(datetime)
        return (following if following <= moment else previous).timestamp()

    def next_slot(self, after: float) -> float:
        """The first scheduled time strictly after `after`."""
        moment = datetime.fromtimestamp(after, self._zone)
        following: datetime = croniter(self._expression, moment).get_next(datetime)
        return following.timestamp()

    def due(self, last_slot: float, now: float) -> float | None:
        """The slot to run now, if one passed since `last_slot`; missed slots collapse into one."""
        slot = self.latest_slot(now)
        return slot if slot > last_slot else None
