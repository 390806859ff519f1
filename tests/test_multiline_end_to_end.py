"""End to end, on the real broker and ES-API server (one bed): a Java stack trace written by an
app through the real s6-log, joined by the rendered input's multiline parser (the follower model
of tests/agent applies it with filebeat's semantics), shipped as filebeat's event, is ONE
document whose message holds every line and whose `log.level` is the first line's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from indexer.agent.multiline import MultilineRule
from indexer.agent.render import input_for
from indexer.agent.settings import AgentSettings
from indexer.embedded import CompatProxy, ServerProcess
from tests.agent.filestream_model import Event, Filestream
from tests.agent.s6_supervision import s6_app
from tests.support import (
    DEADLETTERS,
    IndexerProcess,
    count,
    create_topic,
    documents,
    indexer_env,
    produce,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

TRACE = [
    "2026-01-01 10:00:00,123 ERROR [main] c.e.OrderService - order 17 failed",
    "java.lang.IllegalStateException: boom",
    "\tat com.example.OrderService.place(OrderService.java:42)",
    "Caused by: java.io.IOException: disk full",
    "\tat com.example.Disk.write(Disk.java:3)",
    "\t... 1 more",
]


def _filebeat_event(event: Event, logs_root: Path) -> bytes:
    """The event as filebeat 8.x puts it on the topic (NODE-SIDE.md §6), path under /data/logs."""
    path = "/data/logs/" + str(Path(event.path).relative_to(logs_root))
    flags = list(event.flags)
    return json.dumps(
        {
            "@timestamp": "2026-01-01T10:00:01.000Z",
            "@metadata": {"beat": "filebeat", "type": "_doc", "version": "8.17.0"},
            "message": event.message.decode(),
            "log": {"offset": event.offset, "file": {"path": path}, "flags": flags},
            "host": {"name": "node-1"},
            "input": {"type": "filestream"},
        }
    ).encode()


def _joined_by_the_rendered_input(tmp_path: Path) -> tuple[list[Event], Path]:
    (tmp_path / "logs").mkdir()
    settings = AgentSettings(
        logs_root=tmp_path / "logs",
        inputs_dir=tmp_path / "inputs.d",
        state_dir=tmp_path / "state",
        multiline={"shop/cart": MultilineRule(preset="java")},
    )
    logdir = settings.logs_root / "shop" / "cart" / "cart-0" / "log"
    logdir.parent.mkdir(parents=True)
    follower = Filestream(input_for(settings, "shop", "cart"))
    with s6_app(tmp_path, logdir, {"APP_LOG_SIZE": "1000000"}) as app:
        app.write([b"INFO before", *(line.encode() for line in TRACE)])
        app.wait_bytes()
        follower.tick(1.0)
        follower.tick(10.0)  # past the timeout: the trace is sent
        follower.stop()
    return follower.events, settings.logs_root


def test_a_java_trace_from_s6_log_is_one_document_with_every_line_and_the_first_lines_level(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    try:
        events, logs_root = _joined_by_the_rendered_input(tmp_path)
    except RuntimeError as exc:  # s6 missing: say so, as tests/agent does
        pytest.fail(str(exc))
    assert len(events) == 2 and "multiline" in events[1].flags
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-multiline", 1)
    produce(bootstrap, "filebeat-multiline", [_filebeat_event(e, logs_root) for e in events])
    indexer = IndexerProcess(
        indexer_env(bootstrap, es_proxy.url),
        tmp_path / "indexer.log",
    ).start()
    wait_for(lambda: count(es_proxy.url) >= 2, 60, "both events stored")
    assert indexer.stop() == 0
    assert count(es_proxy.url, DEADLETTERS) == 0
    stored: list[dict[str, Any]] = [source for _, source in documents(es_proxy.url).values()]
    assert len(stored) == 2
    (trace,) = [doc for doc in stored if "IllegalStateException" in doc["message"]]
    lines = trace["message"].split("\n")
    assert [line[31:] for line in lines] == TRACE  # every line, each after its s6-log time
    assert trace["log"]["level"] == "error"
    assert trace["log"]["offset"] == events[1].offset
    assert trace["kubernetes"]["namespace"] == "shop"
