"""Which files filebeat is done with: read by the app's input and acknowledged to their end.

Built once per maintenance run from one registry snapshot. A file that no input reads (s6-log's
`lock`, a `.gz` generation) is done; a file that an input reads but that the registry does not
show read to its end is not, and neither is anything when the input cannot be rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from indexer.agent import registry
from indexer.agent.render import covers, input_for, input_id
from indexer.agent.settings import AgentSettings


class Shipped:
    """`shipped(path)`: whether filebeat has nothing left to read in `path`."""

    def __init__(self, settings: AgentSettings, snapshot: registry.Registry | None = None) -> None:
        self._settings = settings
        self._registry = snapshot or registry.load(settings.filebeat.registry_dir)
        self._inputs: dict[tuple[str, str], dict[str, Any] | None] = {}

    def __call__(self, path: Path) -> bool:
        try:
            namespace, app = path.relative_to(self._settings.logs_root).parts[:2]
        except ValueError:
            return True  # outside the tree: no input of ours reads it
        rendered = self._input(namespace, app)
        if rendered is None:
            return False
        if not covers(rendered, str(path)):
            return True
        return self._registry.finished(input_id(namespace, app), path)

    def _input(self, namespace: str, app: str) -> dict[str, Any] | None:
        key = (namespace, app)
        if key not in self._inputs:
            try:
                self._inputs[key] = input_for(self._settings, namespace, app)
            except Exception:  # a broken override template: keep everything of that app
                self._inputs[key] = None
        return self._inputs[key]
