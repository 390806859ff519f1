"""Metrics of templates, lifecycle and the shard budget (to be merged into the one catalogue)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SHARD_HEADROOM = Gauge(
    "indexer_shard_headroom",
    "Shards the cluster can still open (max_shards_per_node x data nodes - open shards), as last "
    "read.",
)
SHARD_BUDGET_FALLBACK = Counter(
    "indexer_shard_budget_fallback_total",
    "New per-app daily indices sent to their namespace's shared daily index for lack of shards.",
    ["namespace"],
)
NAMESPACE_TEMPLATES = Counter(
    "indexer_namespace_templates_total",
    "Per-namespace index templates put because the namespace's policy is not the default.",
)
INDICES_PREPARED = Counter(
    "indexer_indices_prepared_total",
    "Indices prepared on first sight, by outcome (created, existing, shared).",
    ["outcome"],
)
RETENTION_DELETED = Counter(
    "indexer_retention_deleted_total",
    "Daily indices deleted by the retention sweeper (dry runs not counted).",
)
RETENTION_LAST_RUN = Gauge(
    "indexer_retention_last_run_timestamp_seconds",
    "When the retention sweeper last finished a pass.",
)
SETUP_OK = Gauge(
    "indexer_lifecycle_setup_ok",
    "1 when the last template and policy setup succeeded (without setup on start: when the "
    "templates were found), 0 when the cluster refused it (or they were missing).",
)
