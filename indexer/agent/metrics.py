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
ROTATION_LAST_SLOT = Gauge(
    "indexer_agent_rotation_last_slot_timestamp_seconds",
    "The schedule slot of the last rotation run that completed and saved its state (Unix time).",
    registry=REGISTRY,
)
ROTATION_DUE_SLOT = Gauge(
    "indexer_agent_rotation_due_slot_timestamp_seconds",
    "The latest slot of the schedule at the last turn of the main loop (Unix time): ahead of "
    "the last slot while a run is due or failing.",
    registry=REGISTRY,
)
UNSHIPPED_BYTES = Gauge(
    "indexer_agent_filebeat_unshipped_bytes",
    "Bytes of the files filebeat's inputs read that its registry does not show acknowledged.",
    registry=REGISTRY,
)
UNSHIPPED_FILES = Gauge(
    "indexer_agent_filebeat_unshipped_files",
    "Files filebeat's inputs read that its registry does not show acknowledged to their end.",
    registry=REGISTRY,
)
OLDEST_UNSHIPPED = Gauge(
    "indexer_agent_filebeat_oldest_unshipped_age_seconds",
    "Age (since last modified) of the oldest file with bytes not acknowledged; 0 when none.",
    registry=REGISTRY,
)
LOGS_BYTES = Gauge(
    "indexer_agent_logs_bytes",
    "Bytes of the regular files under the logs root.",
    registry=REGISTRY,
)
VOLUME_SIZE = Gauge(
    "indexer_agent_logs_volume_size_bytes",
    "Size of the file system holding the logs root (statvfs).",
    registry=REGISTRY,
)
VOLUME_USED = Gauge(
    "indexer_agent_logs_volume_used_bytes",
    "Used bytes of the file system holding the logs root (statvfs).",
    registry=REGISTRY,
)
VOLUME_AVAILABLE = Gauge(
    "indexer_agent_logs_volume_available_bytes",
    "Bytes of the file system holding the logs root still available to unprivileged writers.",
    registry=REGISTRY,
)
STATUS_TIMESTAMP = Gauge(
    "indexer_agent_status_timestamp_seconds",
    "When the unshipped and volume figures were last measured (Unix time).",
    registry=REGISTRY,
)
PATH_MISSING = Gauge(
    "indexer_agent_path_missing",
    "1 while a directory the agent depends on is missing, by the setting that names it "
    "(indexer.agent.node_paths): the logs root, filebeat's registry directory.",
    ["setting"],
    registry=REGISTRY,
)
MISSING_DIRECTORY = Counter(
    "indexer_agent_missing_directory_total",
    "Times a directory the agent depends on was found missing (once until it is back), by the "
    "setting that names it.",
    ["setting"],
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
