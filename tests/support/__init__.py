"""Test support, one job per module: `processes` (`indexer run` as a child process, the CLI,
waiting), `kafka` (topics, producing, committed offsets), `reads` (what the search server holds,
and the closing check of every fault test), `faults` (the proxy's fault rules). The names tests
use are re-exported here, so `from tests.support import …` reads the same as before."""

from tests.support.kafka import (
    committed_offsets,
    create_topic,
    days_ago,
    ends_of,
    produce,
    produce_stamped,
)
from tests.support.processes import (
    FAST_GROUP,
    IndexerProcess,
    indexer_env,
    run_cli,
    stop_leftovers,
    wait_for,
)
from tests.support.reads import (
    DEADLETTERS,
    PARSING_ERROR,
    STORED,
    cluster,
    count,
    deadletters,
    decoded,
    documents,
    documents_by_id,
    expected_source,
    finish_and_check,
    record_of,
    settled,
)

__all__ = [
    "DEADLETTERS",
    "FAST_GROUP",
    "PARSING_ERROR",
    "STORED",
    "IndexerProcess",
    "cluster",
    "committed_offsets",
    "count",
    "create_topic",
    "days_ago",
    "deadletters",
    "decoded",
    "documents",
    "documents_by_id",
    "ends_of",
    "expected_source",
    "finish_and_check",
    "indexer_env",
    "produce",
    "produce_stamped",
    "record_of",
    "run_cli",
    "settled",
    "stop_leftovers",
    "wait_for",
]
