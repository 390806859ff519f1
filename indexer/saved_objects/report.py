"""The outcome of one setup run (Kibana or OpenSearch Dashboards): one line per object and the
writes sent (or, on a dry run, planned). Pure data: no I/O."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """One write, printed by a dry run as `METHOD path {body as sorted JSON}`."""

    method: str
    path: str
    body: Any

    def __str__(self) -> str:
        shown = "" if self.body is None else " " + json.dumps(self.body, sort_keys=True)
        return f"{self.method} {self.path}{shown}"


@dataclass(frozen=True)
class Outcome:
    kind: str  # space, tenant, data view, index pattern, role
    name: str
    action: str  # created, updated, unchanged, newer, foreign, skipped, would create
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind} {self.name}: {self.action}" + (
            f" ({self.detail})" if self.detail else ""
        )


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)  # the writes sent (or planned)

    def lines(self) -> list[str]:
        return [o.line() for o in self.outcomes]

    @property
    def result(self) -> str:
        """One word for the metric: changed, foreign (something left alone), or unchanged."""
        actions = {o.action for o in self.outcomes}
        if actions & {"created", "updated", "would create"}:
            return "changed"
        return "foreign" if actions & {"foreign", "skipped"} else "unchanged"
