"""Bulk: write one batch to Elasticsearch and give every document exactly one outcome.

`BulkWriter` (writer.py) is the face; its contract is there. This package keeps the names other
modules have imported from `indexer.bulk`: the Kafka timestamp facts now live in
`indexer.kafka_time`, the reading of our own action lines in `indexer.encode`.
"""

from indexer.bulk.result import BulkResult, DeadLetterRejected
from indexer.bulk.writer import BulkWriter
from indexer.encode import action_id, action_id_text, action_index
from indexer.kafka_time import CLOCK_SET_MILLIS, KAFKA_MILLIS_MAX, clockless, message_seconds

__all__ = [
    "CLOCK_SET_MILLIS",
    "KAFKA_MILLIS_MAX",
    "BulkResult",
    "BulkWriter",
    "DeadLetterRejected",
    "action_id",
    "action_id_text",
    "action_index",
    "clockless",
    "message_seconds",
]
