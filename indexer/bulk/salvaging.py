"""Salvaging: send mapping-refused documents once more, with the offending fields moved aside.

`salvage_rejected` blocks like `Sender.send_all` (one more write, retried in the writer's
backoff) and raises what it raises. It only tries documents refused for a reason `salvage.py`
can repair (`SALVAGEABLE`); a caller may assume the rejections it returns are the ones that still
stand, each at its original position, the reason naming the salvaged copy's refusal too when that
was refused, and that `result.salvaged` counts the documents that went in only after salvage.
"""

from __future__ import annotations

import orjson

from indexer.batch import Batch
from indexer.bulk.result import BulkResult, Rejection
from indexer.bulk.rounds import Sender
from indexer.encode import action_id, encode
from indexer.kafka_time import message_seconds
from indexer.route import iso_timestamp
from indexer.salvage import SALVAGEABLE, salvage


def salvage_rejected(
    sender: Sender, batch: Batch, rejections: list[Rejection], result: BulkResult
) -> list[Rejection]:
    """Send mapping-refused documents once more with the offending fields moved aside;
    return the rejections that still stand."""
    lines: list[bytes] = []
    origins: list[Rejection] = []
    remaining: list[Rejection] = []
    for rejection in rejections:
        if rejection.index is None or rejection.error_type not in SALVAGEABLE:
            remaining.append(rejection)
            continue
        line = batch.lines[rejection.position]
        document = orjson.loads(line[line.index(b"\n") + 1 :])
        message = batch.messages[rejection.position]
        kafka_time = iso_timestamp(message_seconds(message))
        salvaged = salvage(document, rejection.error_type, rejection.reason, kafka_time)
        if salvaged is None:
            remaining.append(rejection)
            continue
        lines.append(encode(rejection.index, action_id(line), salvaged))
        origins.append(rejection)
    if not lines:
        return remaining
    settled = result.indexed + result.duplicates
    refused = sender.send_all(lines, list(range(len(lines))), result, "write salvaged documents")
    result.salvaged += result.indexed + result.duplicates - settled
    for again in refused:
        first = origins[again.position]
        reason = f"{first.reason} (salvaged copy refused too: {again.error_type}: {again.reason})"
        remaining.append(Rejection(first.position, first.error_type, reason, first.index))
    return remaining
