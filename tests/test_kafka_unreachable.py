"""Kafka unreachable: librdkafka's complaints come out as our JSON events, a few per kind and
interval instead of ~20 raw text lines a second, one `kafka_unreachable` event says what is wrong,
and /readyz gives that reason."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from indexer.embedded import CompatProxy, ServerProcess
from tests.support import FAST_GROUP, IndexerProcess, indexer_env, log_events, wait_for

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _readyz(indexer: IndexerProcess) -> tuple[int, str]:
    try:
        url = f"http://127.0.0.1:{indexer.metrics_port}/readyz"
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()


def test_an_unreachable_kafka_logs_few_structured_lines_and_fails_readiness_with_the_reason(
    es_proxy: CompatProxy, tmp_path: Path
) -> None:
    log_path = tmp_path / "indexer.log"
    indexer = IndexerProcess(indexer_env(f"127.0.0.1:{_closed_port()}", es_proxy.url), log_path)
    indexer.start()
    wait_for(lambda: "Kafka is unreachable" in _readyz(indexer)[1], 30, "the readiness reason")
    status, reason = _readyz(indexer)
    assert status == 503
    assert reason.startswith("Kafka is unreachable: ")
    time.sleep(6)  # librdkafka retries every second or so: 100+ raw lines by now without the fix
    assert indexer.stop() == 0
    raw = log_path.read_text().splitlines()
    events = [json.loads(line) for line in raw]  # every line is JSON: raises otherwise
    kafka = [e for e in log_events(events) if e["event"]["action"].startswith("kafka_")]
    assert [e["event"]["action"] for e in kafka].count("kafka_unreachable") == 1
    # One line per kind (facility or error code) per 30 s: a handful in this run.
    kinds = {(e["event"]["action"], e.get("facility"), e.get("code")) for e in kafka}
    assert len(kafka) == len(kinds) <= 10, kafka
    assert all(e["labels"]["client"] == "consumer" for e in kafka)  # ECS `client` is an object


def test_a_refused_authentication_is_one_clear_event_and_the_readiness_reason(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    # The embedded broker speaks no SASL: librdkafka's handshake fails with _AUTHENTICATION,
    # then reports all brokers down (which must not hide the refusal).
    options = {
        **FAST_GROUP,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "indexer",
        "sasl.password": "kafka-pw-123",
    }
    env = indexer_env(
        f"127.0.0.1:{kafka.port}", es_proxy.url, INDEXER_KAFKA__OPTIONS=json.dumps(options)
    )
    log_path = tmp_path / "indexer.log"
    indexer = IndexerProcess(env, log_path).start()
    wait_for(lambda: "Kafka refuses" in _readyz(indexer)[1], 30, "the readiness reason")
    time.sleep(3)
    status, reason = _readyz(indexer)
    assert status == 503
    assert reason.startswith("Kafka refuses this client's credentials or permissions: ")
    assert indexer.stop() == 0
    text = log_path.read_text()
    assert "kafka-pw-123" not in text
    events = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    names = [
        e["event"]["action"]
        for e in log_events(events)
        if e["event"]["action"].startswith("kafka_")
    ]
    assert names.count("kafka_auth_refused") == 1
    assert "kafka_unreachable" not in names
