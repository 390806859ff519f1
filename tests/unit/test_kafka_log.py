"""The librdkafka bridge's throttle: one event per kind per interval, with the count held back."""

from __future__ import annotations

import logging

import pytest

from indexer.kafka_log import KafkaLogBridge
from indexer.log import configure_logging
from indexer.settings import LogSettings
from tests.support import log_events


def test_one_line_per_facility_per_interval_with_the_count_held_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(LogSettings(format="json"))
    now = [0.0]
    bridge = KafkaLogBridge("consumer", interval_seconds=30, clock=lambda: now[0])
    logger = bridge.config()["logger"]
    for second in range(100):
        now[0] = second * 0.1
        logger.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "refused")
        logger.log(logging.WARNING, "%s [%s] %s", "REQTMOUT", "rdkafka#consumer-1", "timeout")
    now[0] = 31.0
    logger.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#consumer-1", "http://u:pw@x down")
    lines = log_events(capsys.readouterr().err)
    assert [(e["facility"], e["held_back"], e["log.level"]) for e in lines] == [
        ("FAIL", 0, "error"),
        ("REQTMOUT", 0, "warning"),
        ("FAIL", 99, "error"),
    ]
    assert lines[-1]["detail"] == "http://**********@x down"
    assert bridge.problem() is None  # log lines alone say nothing about reachability
