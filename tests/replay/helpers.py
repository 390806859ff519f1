"""Helpers of the replay tests: events at chosen times, and the replay commands as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from confluent_kafka import Producer

from tests.support import days_ago

T0 = days_ago(1) + timedelta(hours=10)
DAY = T0.strftime("%Y.%m.%d")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def event(namespace: str, app: str, when: datetime, **fields: object) -> bytes:
    body = {
        "@timestamp": iso(when),
        "message": f"{namespace}/{app} at {iso(when)}",
        "log": {"file": {"path": f"/data/logs/{namespace}/{app}/{app}-0/log/app.log"}},
        **fields,
    }
    return json.dumps(body).encode()


def produce_at(
    bootstrap: str, topic: str, messages: Iterable[tuple[bytes, datetime, int]]
) -> list[str]:
    """Produce (value, Kafka timestamp, partition) together (messages of one call share
    batches) and return their Kafka records (`topic:partition:offset`) in the same order."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    ids: dict[int, str] = {}
    errors: list[str] = []

    def delivered(n: int) -> Any:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                ids[n] = f"{msg.topic()}:{msg.partition()}:{msg.offset()}"

        return report

    count = 0
    for count, (value, when, partition) in enumerate(messages, 1):
        producer.produce(
            topic,
            value,
            partition=partition,
            timestamp=int(when.timestamp() * 1000),
            on_delivery=delivered(count - 1),
        )
    assert producer.flush(30) == 0
    assert not errors, errors[:3]
    return [ids[n] for n in range(count)]


def run_command(env: dict[str, str], *argv: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """`python -m indexer ARGV --json`; returns the exit status and the JSON summary."""
    done = subprocess.run(
        [sys.executable, "-m", "indexer", *argv, "--json"],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no summary on stdout; stderr:\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1])


def bulk_ids(bodies: Iterable[bytes]) -> list[tuple[str, str]]:
    """(index, Kafka record `topic:partition:offset`) of every `create` in recorded `_bulk`
    request bodies (the record from the document's `kafka.*`)."""
    from tests.support import record_of

    written = []
    for body in bodies:
        lines = body.splitlines()
        for action_line, document in zip(lines[::2], lines[1::2], strict=True):
            action = json.loads(action_line)["create"]
            written.append((action["_index"], record_of(json.loads(document))))
    return written


def delete_documents(es_url: str, where: dict[str, str]) -> None:
    """Delete the documents of Kafka records from their index (`where`: record → index)."""
    from tests.support import cluster, documents_by_id, record_of

    stored = documents_by_id(es_url, ",".join(sorted(set(where.values()))))
    ids = {record_of(source): doc_id for doc_id, (_, source) in stored.items()}
    es = cluster(es_url)
    for record, index in where.items():
        es.request("DELETE", f"/{index}/_doc/{ids[record]}", params={"refresh": "true"})
    es.close()
