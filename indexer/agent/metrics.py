"""The agent's Prometheus metrics, all in one registry, and its liveness heartbeat."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INPUTS_RENDERED = Counter(
    "indexer_agent_inputs_rendered_total",
    "Input files written because their content changed.",
    registry=REGISTRY,
)
INPUTS_REMOVED = Counter(
    "indexer_agent_inputs_removed_total",
    "Input files removed after their app directory disappeared.",
    registry=REGISTRY,
)
INPUTS = Gauge("indexer_agent_inputs", "Input files the agent manages.", registry=REGISTRY)
RECONCILES = Counter(
    "indexer_agent_reconciles_total",
    "Reconcile passes, by trigger.",
    ["trigger"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "indexer_agent_reconcile_seconds", "Duration of one reconcile pass.", registry=REGISTRY
)
ROTATIONS = Counter(
    "indexer_agent_rotations_total", "Files rotated, by strategy.", ["strategy"], registry=REGISTRY
)
ROTATION_RUN_SECONDS = Histogram(
    "indexer_agent_rotation_run_seconds", "Duration of one rotation run.", registry=REGISTRY
)
COMPRESSED_BYTES = Counter(
    "indexer_agent_compressed_bytes_total",
    "Bytes of rotated generations compressed (input size).",
    registry=REGISTRY,
)
PRUNED = Counter("indexer_agent_pruned_total", "Pod log directories removed.", registry=REGISTRY)
ERRORS = Counter(
    "indexer_agent_errors_total",
    "Errors and skipped entries, by stage and kind (indexer.agent.skips).",
    ["stage", "kind"],
    registry=REGISTRY,
)
HEARTBEAT = Gauge(
    "indexer_agent_heartbeat_timestamp_seconds",
    "When the main loop last turned (Unix time).",
    registry=REGISTRY,
)


class Liveness:
    """The main loop beats; `/healthz` asks whether the last beat is recent enough."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._last = time.monotonic()

    def beat(self) -> None:
        self._last = time.monotonic()
        HEARTBEAT.set(time.time())

    def alive(self) -> bool:
        return time.monotonic() - self._last < self._timeout
