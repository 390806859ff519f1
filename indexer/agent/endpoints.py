"""The agent's HTTP endpoints: `/metrics` (its own registry) and `/healthz` (liveness)."""

from __future__ import annotations

from indexer.agent.metrics import REGISTRY, Liveness
from indexer.health import HealthServer


def serve(host: str, port: int, liveness: Liveness) -> HealthServer:
    """Start serving in a daemon thread; `server.close()` stops it, `server.port` is the port."""

    def healthz() -> tuple[bool, str]:
        alive = liveness.alive()
        return alive, "ok" if alive else "stalled"

    return HealthServer(host, port, {"/healthz": healthz}, registry=REGISTRY)
