"""The agent's HTTP endpoints: `/metrics` (its own registry), `/healthz` (liveness) and
`/readyz` (the logs root exists: indexer.agent.node_paths)."""

from __future__ import annotations

from collections.abc import Callable

from indexer.agent.metrics import REGISTRY, Liveness
from indexer.health import HealthServer


def serve(
    host: str,
    port: int,
    liveness: Liveness,
    ready: Callable[[], tuple[bool, str]] = lambda: (True, "ok"),
) -> HealthServer:
    """Start serving in a daemon thread; `server.close()` stops it, `server.port` is the port."""

    def healthz() -> tuple[bool, str]:
        alive = liveness.alive()
        return alive, "ok" if alive else "stalled"

    return HealthServer(host, port, {"/healthz": healthz, "/readyz": ready}, registry=REGISTRY)
