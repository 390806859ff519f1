"""Replays: re-drive dead letters once their cause is fixed, and re-read a time window of Kafka.

Both write through the indexer's own stages (decode, route, encode, `BulkWriter`), so a replayed
message lands in the same daily index under the same `_id` (derived from the event, `docid.py`) as it
would have the first time, and a document already there answers 409: replays never store
anything twice.

    deadletters.py  `indexer deadletter replay`: dead-letter indices → target indices
    window.py       `indexer replay`: a Kafka time window → the daily indices
    scope.py        what a replay selects (time window, namespaces, apps, error types)
    stored.py       a dead letter dressed as a Kafka message, for the batcher and bulk writer
    writing.py      the bulk writer as `indexer run` builds it, and outcome tallies
    cli.py          the two commands (imports nothing of Kafka or Elasticsearch at load time)
"""
