"""Our own log lines (indexer/log.py) are ECS documents: indexed into an index of our own
template, as a shipper that lifts a JSON line to the document's root would send them, and as
our own pipeline indexes them (the line in `message`), they meet no mapping conflict."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from indexer.admin.setup import run_setup
from indexer.cluster import ClusterError, SearchClient
from indexer.log import ECS_OBJECTS, ECS_VERSION, configure_logging
from indexer.settings import LogSettings, ParsingSettings
from indexer.structured import LineParser
from tests.ecs_table import load_table
from tests.support import log_events

from .conftest import make_settings

APP_INDEX = "k8s-logs-shop_cart-2026.11.26"  # fixed on purpose: only the template matters


def _our_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """A line of each shape we write: plain, with an `error=`, with a traceback, with keys named
    as ECS objects (`group`, `file`), with a nested value and a path."""
    configure_logging(LogSettings(format="json"))
    capsys.readouterr()
    log = structlog.get_logger()
    log.info("started", version="1.0", group="log-indexer", partitions={0: 5}, path=Path("/x"))
    log.warning("exiting", reason="the cluster did not answer", error="TimeoutError: 10 s")
    log.info("agent.entry_skipped", stage="rotate", kind="wrong_type", file="/var/log/a/fifo")
    try:
        raise ConnectionError("refused")
    except ConnectionError:
        log.exception("pipeline_failed")
    return log_events(capsys.readouterr().err)


def test_a_line_of_ours_carries_the_ecs_names_and_readable_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started, exiting, skipped, failed = _our_lines(capsys)
    assert list(started)[:4] == ["@timestamp", "log.level", "message", "ecs.version"]
    assert started["ecs.version"] == ECS_VERSION
    assert started["event"] == {"action": "started"} and started["message"] == "started"
    assert started["log"] == {"logger": __name__}
    assert started["labels"] == {"group": "log-indexer"}  # ECS's `group` is an object
    assert (started["partitions"], started["path"]) == ({"0": 5}, "/x")
    assert exiting["log.level"] == "warning"
    assert exiting["message"] == "exiting: the cluster did not answer"
    assert exiting["error"] == {"message": "TimeoutError: 10 s"}
    assert skipped["labels"] == {"file": "/var/log/a/fifo"}
    assert failed["error"]["type"] == "ConnectionError"
    assert failed["error"]["message"] == "refused"
    assert failed["error"]["stack_trace"].startswith("Traceback (most recent call last):")
    assert failed["message"] == "pipeline_failed: refused"


def test_our_lines_index_into_our_own_template_with_no_mapping_conflict(
    client: SearchClient, es_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_setup(client, make_settings(es_url))
    lines = _our_lines(capsys)
    for line in lines:  # lifted to the root, as filebeat's decode_json_fields to "" does
        assert client.request("POST", f"/{APP_INDEX}/_doc", line)["result"] == "created"
    # The layout before ECS names (a string `event`) is what this test exists to catch.
    with pytest.raises(ClusterError, match=r"(mapper|document)_parsing_exception"):
        client.request("POST", f"/{APP_INDEX}/_doc", {"event": "started", "level": "info"})

    parser = LineParser(ParsingSettings(), lambda _stamp, _ingest: True)
    for raw in map(_serialized, lines):  # our pipeline: the line is the event's message
        yesterday = datetime.fromtimestamp(time.time() - 86_400, UTC)
        stamp_text = yesterday.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # relative to now: no date pinned
        document: dict[str, Any] = {"@timestamp": stamp_text, "message": raw}
        stamp = parser.parse(document, time.time())
        assert stamp is not None and document["log"]["level"] in ("info", "warning", "error")
        assert not document["message"].startswith("{")  # our line's own words
        assert client.request("POST", f"/{APP_INDEX}/_doc", document)["result"] == "created"


def _serialized(line: dict[str, Any]) -> str:
    return orjson.dumps(line).decode()


def test_every_ecs_object_our_templates_know_is_kept_free_of_plain_values() -> None:
    """indexer/log.py's list of ECS objects covers the first part of every dotted ECS name in
    tests/data/ecs_fields.yml, and ECS_VERSION is that table's release."""
    table = load_table()
    assert f"v{ECS_VERSION}" == table["ecs_version"]
    objects = {name.split(".")[0] for name in table["fields"] if "." in name}
    assert objects <= ECS_OBJECTS, objects - ECS_OBJECTS
