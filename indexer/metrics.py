"""The metrics catalogue: every Prometheus metric of the indexer, with its help text.

Hot paths never touch these per event: stages count in plain integers and add them here once
per poll or per bulk.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from indexer import build

BUILD_INFO = Gauge(
    "indexer_build_info",
    "Always 1; its labels say which version runs and which core processes events.",
    ["version", "core"],
)
BUILD_INFO.labels(build.VERSION, "python").set(1)


def set_build_core(core: str) -> None:
    """Name the core start-up chose (`native` or `python`) in `indexer_build_info`: one series."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(build.VERSION, core).set(1)


EVENTS_CONSUMED = Counter(
    "indexer_events_consumed_total", "Kafka messages taken from the assigned partitions."
)
EVENTS_INDEXED = Counter(
    "indexer_events_indexed_total", "Documents Elasticsearch acknowledged as created."
)
EVENTS_DUPLICATE = Counter(
    "indexer_events_duplicate_total",
    "Documents Elasticsearch already held (409 on create): re-deliveries, counted as success.",
)
EVENTS_DEADLETTERED = Counter(
    "indexer_events_deadlettered_total",
    "Messages written to the dead-letter index, by reason (error type).",
    ["reason"],
)
EVENTS_SALVAGED = Counter(
    "indexer_events_salvaged_total",
    "Documents indexed only after their mapping-conflicting fields were moved aside.",
)
EVENTS_UNMATCHED = Counter(
    "indexer_events_unmatched_total",
    "Events whose log.file.path matched no layout (indexed into the unmatched index).",
)
EVENTS_REDATED = Counter(
    "indexer_events_redated_total",
    "Events routed by ingestion date because their @timestamp was missing, bad or out of bounds.",
)
EVENTS_TIMESTAMP_NOT_A_DATE = Counter(
    "indexer_events_timestamp_not_a_date_total",
    "Events whose @timestamp was not a date: kept in indexer_timestamp.original, replaced by "
    "the Kafka time (also counted in indexer_events_redated_total).",
)
EVENTS_CLOCKLESS = Counter(
    "indexer_events_clockless_total",
    "Messages whose Kafka timestamp was before 2000 (a clock never set): routed by the wall "
    "clock when consumed, like a record without a timestamp.",
)
CORE_DECLINED = Counter(
    "indexer_core_declined_total",
    "Events the native core left to the Python reference path, by reason (docs/native-core.md).",
    ["reason"],
)
ITEMS_RETRIED = Counter(
    "indexer_bulk_items_retried_total",
    "Bulk items retried after a 429 or 5xx item status.",
)
BULK_REQUESTS = Counter(
    "indexer_bulk_requests_total",
    "Bulk HTTP requests, by result (ok, partial, retry, error).",
    ["result"],
)
BULK_DURATION = Histogram(
    "indexer_bulk_duration_seconds",
    "Duration of one bulk HTTP request.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BULK_DOCS = Histogram(
    "indexer_bulk_documents",
    "Documents per bulk request.",
    buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000),
)
BULK_LAST_SUCCESS = Gauge(
    "indexer_bulk_last_success_timestamp_seconds",
    "Unix time of the last bulk request Elasticsearch answered without a request-level error.",
)
BULK_IN_FLIGHT = Gauge("indexer_bulk_in_flight", "Bulk batches being written right now.")
BUFFERED_BYTES = Gauge(
    "indexer_buffered_bytes", "Bytes of documents consumed but not yet acknowledged."
)
PAUSED = Gauge("indexer_paused", "1 while consumption is paused for backpressure, else 0.")
BACKPRESSURE_SECONDS = Counter(
    "indexer_backpressure_seconds_total",
    "Time spent not reading because the documents awaiting acknowledgement filled the memory "
    "budget (paused or not).",
)
PAUSED_SECONDS = Counter(
    "indexer_paused_seconds_total", "Time spent with consumption paused for backpressure."
)
EVENT_LATENCY = Histogram(
    "indexer_event_latency_seconds",
    "From an event's @timestamp to Elasticsearch's acknowledgement (sampled: the newest event "
    "of each bulk batch).",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
NAMESPACE_LABEL_LIMIT = 200
NAMESPACE_DOCUMENTS = Counter(
    "indexer_namespace_documents_total",
    f"Documents written per namespace (any outcome). The first {NAMESPACE_LABEL_LIMIT} "
    "namespaces seen get their own label; the rest count as `_other`.",
    ["namespace"],
)
OFFSET_RESETS = Counter(
    "indexer_offset_resets_total",
    "Times librdkafka moved a partition's position because the offset to read was out of range "
    "(retention or a delete removed messages not yet read: they are lost to the indexer).",
    ["topic"],
)
OFFSETS_COMMITTED = Counter(
    "indexer_offset_commits_total",
    "Offset commits that had offsets to commit, by result (ok, error): librdkafka's background "
    "commits and the synchronous ones on revoke and shutdown.",
    ["result"],
)
CONSUMER_LAG = Gauge(
    "indexer_consumer_lag",
    "Messages between the group's committed offset and the high watermark, per assigned "
    "partition (librdkafka's statistics, every 5 s; absent until the partition has a commit).",
    ["topic", "partition"],
)
INDEX_PARKED_DOCUMENTS = Gauge(
    "indexer_index_parked_documents",
    "Documents set aside because their index keeps refusing them for now (a red index, a "
    "flood-stage block), by index and the error type it answered; retried in the background.",
    ["index", "reason"],
)
PARKED_BYTES = Gauge(
    "indexer_parked_bytes",
    "Bytes the parked documents hold: lines, messages and their objects (retry.park_max_bytes).",
)
PARKING_FAILURES = Counter(
    "indexer_parking_failures_total",
    "Unexpected errors in the parking thread (a bug: logged as parking_failed; the thread goes "
    "on). Liveness fails if the thread ends.",
)
ASSIGNED_PARTITIONS = Gauge("indexer_assigned_partitions", "Partitions assigned to this consumer.")
REBALANCES = Counter(
    "indexer_rebalances_total",
    "Partition assignment changes, by kind (assign, revoke, lost).",
    ["kind"],
)


class NamespaceCounter:
    """Per-namespace document counts with a bounded number of label values."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix + "-"
        self._labels: dict[str, str] = {}

    def count(self, indices: dict[str, int]) -> None:
        for index, documents in indices.items():
            label = self._labels.get(index)
            if label is None:
                label = self._label(index)
                if len(self._labels) < 100_000:
                    self._labels[index] = label
            NAMESPACE_DOCUMENTS.labels(label).inc(documents)

    def _label(self, index: str) -> str:
        # The first `_` ends the namespace, apps with `_` of their own included (indexer.route).
        namespace, sep, _ = index.removeprefix(self._prefix).partition("_")
        if not sep:
            return "_none"  # unmatched and dead-letter indices
        known = set(self._labels.values())
        if namespace in known or len(known) < NAMESPACE_LABEL_LIMIT:
            return namespace
        return "_other"


KIBANA_SETUP = Counter(
    "indexer_kibana_setup_total",
    "Kibana setups of a namespace's objects done in the background when the namespace first "
    "appeared (kibana.url set), by result: changed (something created or updated), unchanged, "
    "foreign (an object of ours exists and is someone else's: left alone), error (retried with "
    "backoff; indexing never waits for Kibana).",
    ["result"],
)

DASHBOARDS_SETUP = Counter(
    "indexer_dashboards_setup_total",
    "OpenSearch Dashboards setups of a namespace's objects done in the background when the "
    "namespace first appeared (dashboards.url set), by result: changed, unchanged, foreign, "
    "error (retried with backoff; indexing never waits for Dashboards).",
    ["result"],
)
