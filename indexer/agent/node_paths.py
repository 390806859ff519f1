"""The two host directories the agent depends on, checked at start and at every status
measurement: a missing one is warned about (one line when it goes missing, one when it is back),
shown and counted on /metrics, and the logs root's absence fails readiness.

- `logs_root` (INDEXER_AGENT__LOGS_ROOT) missing or not a directory: a wrong hostPath or mount.
  The agent can render, rotate and prune nothing, and filebeat reads nothing: `/readyz` answers
  503 naming the setting and the path (a DaemonSet rollout stops at the first such node).
- `filebeat.registry_dir` (INDEXER_AGENT__FILEBEAT__REGISTRY_DIR) missing: normal on a fresh
  node until filebeat's first start creates it, so readiness does not depend on it. Meanwhile the
  registry shows nothing shipped, so the agent compresses, deletes and prunes nothing that waits
  for filebeat: no data is lost, the disk fills. Missing for long while filebeat runs: the
  `filebeat-data` mount is not filebeat's `path.data` (alert NodeAgentPathMissing).

Metrics: `indexer_agent_path_missing{setting}` (1 while missing; the alert's) and
`indexer_agent_missing_directory_total{setting}` (one per time a directory was found missing).
"""

from __future__ import annotations

from pathlib import Path

import structlog

from indexer.agent import metrics
from indexer.agent.settings import AgentSettings

log = structlog.get_logger()

LOGS_ROOT = "INDEXER_AGENT__LOGS_ROOT"
REGISTRY_DIR = "INDEXER_AGENT__FILEBEAT__REGISTRY_DIR"
_WHY = {
    LOGS_ROOT: "the agent renders, rotates and prunes nothing and filebeat reads nothing; "
    "check the DaemonSet's app-logs hostPath and mount (not ready until it exists)",
    REGISTRY_DIR: "normal until filebeat's first start on this node; meanwhile nothing that "
    "waits for filebeat is compressed, deleted or pruned. If filebeat is running, the "
    "filebeat-data mount is not its path.data",
}


class NodePaths:
    """Checks the logs root and filebeat's registry directory. `check()` runs in the agent's
    main loop; `ready()` may be called from the health server's threads (it only stats)."""

    def __init__(self, settings: AgentSettings) -> None:
        self._paths = {LOGS_ROOT: settings.logs_root, REGISTRY_DIR: settings.filebeat.registry_dir}
        self._missing: set[str] = set()
        for setting in self._paths:
            metrics.PATH_MISSING.labels(setting).set(0)
            metrics.MISSING_DIRECTORY.labels(setting)  # shown at 0 before the first time

    def check(self) -> None:
        """Warn about a directory that went missing (once), say when it is back, count and
        show every missing one. Never raises."""
        for setting, path in self._paths.items():
            missing = not _is_dir(path)
            metrics.PATH_MISSING.labels(setting).set(int(missing))
            if missing:
                if setting not in self._missing:
                    self._missing.add(setting)
                    metrics.MISSING_DIRECTORY.labels(setting).inc()
                    log.warning(
                        "agent.path_missing", setting=setting, path=str(path), why=_WHY[setting]
                    )
            elif setting in self._missing:
                self._missing.discard(setting)
                log.info("agent.path_found", setting=setting, path=str(path))

    def ready(self) -> tuple[bool, str]:
        """(False, the reason) while the logs root is not a directory, else (True, "ok")."""
        root = self._paths[LOGS_ROOT]
        if _is_dir(root):
            return True, "ok"
        return False, f"the logs root {root} ({LOGS_ROOT}) is not a directory"


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # unreadable parent: as good as missing for the agent
        return False
