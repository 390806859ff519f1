"""The node's figures on the agent's /metrics: filebeat's counters re-exported from its /stats,
what filebeat has not shipped (registry offsets against file sizes), the logs volume, the slots.

No filebeat runs here (tests/../TESTING-NOTES): its /stats is served over a real socket from a
document of the shape filebeat 8.x answers (`beats: libbeat/api/routes.go`, registries
`libbeat.output` from `libbeat/outputs/metrics.go` and `libbeat.pipeline` from
`libbeat/publisher/pipeline/monitoring.go`; the example of the http-endpoint docs page).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import registry_files
from conftest import PodMaker

from indexer.agent import node_status
from indexer.agent.filebeat_stats import FilebeatStats
from indexer.agent.settings import AgentSettings

STATS: dict[str, Any] = {
    "beat": {"info": {"uptime": {"ms": 3600000}}, "runtime": {"goroutines": 63}},
    "filebeat": {"events": {"active": 5, "added": 1205, "done": 1200}},
    "libbeat": {
        "config": {"module": {"running": 0}, "reloads": 3},
        "output": {
            "events": {
                "acked": 1200,
                "active": 0,
                "batches": 40,
                "dropped": 2,
                "duplicates": 0,
                "failed": 7,
                "toomany": 0,
                "total": 1209,
            },
            "read": {"bytes": 8120, "errors": 0},
            "type": "kafka",
            "write": {"bytes": 912345, "errors": 3},
        },
        "pipeline": {
            "clients": 4,
            "events": {
                "active": 5,
                "dropped": 0,
                "failed": 0,
                "filtered": 0,
                "published": 1205,
                "retry": 7,
                "total": 1205,
            },
            "queue": {"acked": 1200},
        },
    },
    "registrar": {"states": {"current": 12}},
}


@contextlib.contextmanager
def filebeat_stats_server(document: dict[str, Any]) -> Iterator[str]:
    """A real HTTP server answering GET /stats with `document`; yields the /stats URL."""
    body = json.dumps(document).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/stats":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stats"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _samples(collector: FilebeatStats) -> dict[str, float]:
    return {s.name: s.value for family in collector.collect() for s in family.samples}


def test_filebeats_output_and_pipeline_counters_are_re_exported_under_the_agent_prefix() -> None:
    with filebeat_stats_server(STATS) as url:
        found = _samples(FilebeatStats(url, timeout=2))
    assert found == {
        "indexer_agent_filebeat_up": 1.0,
        "indexer_agent_filebeat_output_events_acked_total": 1200.0,
        "indexer_agent_filebeat_output_events_failed_total": 7.0,
        "indexer_agent_filebeat_output_events_dropped_total": 2.0,
        "indexer_agent_filebeat_output_write_errors_total": 3.0,
        "indexer_agent_filebeat_pipeline_events_published_total": 1205.0,
        "indexer_agent_filebeat_pipeline_events_active": 5.0,
    }


def test_a_filebeat_that_does_not_answer_is_up_0_and_a_missing_value_is_left_out() -> None:
    with filebeat_stats_server(STATS) as url:
        pass  # closed: nothing listens there any more
    assert _samples(FilebeatStats(url, timeout=2)) == {"indexer_agent_filebeat_up": 0.0}
    partial = {"libbeat": {"output": {"events": {"acked": 9, "failed": "n/a"}}}}
    with filebeat_stats_server(partial) as url:
        found = _samples(FilebeatStats(url, timeout=2))
    assert found == {
        "indexer_agent_filebeat_up": 1.0,
        "indexer_agent_filebeat_output_events_acked_total": 9.0,
    }
    with filebeat_stats_server(STATS) as url:
        wrong_path = url.replace("/stats", "/nothing")
        assert _samples(FilebeatStats(wrong_path, timeout=2)) == {"indexer_agent_filebeat_up": 0.0}


def _with_registry(settings: AgentSettings, tmp_path: Path) -> AgentSettings:
    update = {"registry_dir": tmp_path / "registry" / "filebeat"}
    return settings.model_copy(update={"filebeat": settings.filebeat.model_copy(update=update)})


def _node(settings: AgentSettings, make_pod: PodMaker) -> tuple[int, float]:
    """Files filebeat read fully, half, not at all, and ones it never reads; (unshipped, mtime)."""
    log_dir = make_pod("prod", "web", "web-0")
    done, half, unread = (log_dir / n for n in ("current", "a.log", "b.log"))
    done.write_text("x" * 100)
    half.write_text("y" * 300)
    unread.write_text("z" * 50)
    (log_dir / "lock").write_text("")  # excluded: never read
    (log_dir / "old.log.20240101T000000Z.gz").write_bytes(b"g" * 70)  # excluded
    os.mkfifo(log_dir / "fifo.log")
    (log_dir / "link.log").symlink_to(done)
    os.utime(unread, (time.time() - 600, time.time() - 600))
    input_id = "indexer-agent.prod.web"
    registry_files.write(
        settings.filebeat.registry_dir,
        {
            registry_files.key(input_id, done): registry_files.value(done, 100),
            registry_files.key(input_id, half): registry_files.value(half, 100),
        },
        [],
    )
    return 200 + 50, unread.stat().st_mtime


def test_unshipped_bytes_are_registry_offsets_against_the_sizes_of_the_files_inputs_read(
    settings: AgentSettings, make_pod: PodMaker, tmp_path: Path
) -> None:
    settings = _with_registry(settings, tmp_path)
    unshipped, oldest_mtime = _node(settings, make_pod)
    now = time.time()
    status = node_status.measure(settings, now)
    assert status.unshipped_bytes == unshipped and status.unshipped_files == 2
    assert abs(status.oldest_unshipped_age - (now - oldest_mtime)) < 1
    assert status.logs_bytes == 100 + 300 + 50 + 70
    volume = os.statvfs(settings.logs_root)
    assert status.volume_size == volume.f_blocks * volume.f_frsize
    assert 0 < status.volume_available <= status.volume_size
    assert 0 < status.volume_used <= status.volume_size


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_running_agent_serves_the_node_figures_and_filebeats_counters_on_metrics(
    settings: AgentSettings, make_pod: PodMaker, tmp_path: Path
) -> None:
    settings = _with_registry(settings, tmp_path)
    unshipped, _ = _node(settings, make_pod)
    port = _free_port()
    with filebeat_stats_server(STATS) as url:
        env = {
            **os.environ,
            "INDEXER_AGENT__LOGS_ROOT": str(settings.logs_root),
            "INDEXER_AGENT__INPUTS_DIR": str(settings.inputs_dir),
            "INDEXER_AGENT__STATE_DIR": str(settings.state_dir),
            "INDEXER_AGENT__FILEBEAT__REGISTRY_DIR": str(settings.filebeat.registry_dir),
            "INDEXER_AGENT__FILEBEAT__STATS_URL": url,
            "INDEXER_AGENT__METRICS__HOST": "127.0.0.1",
            "INDEXER_AGENT__METRICS__PORT": str(port),
        }
        agent = subprocess.Popen(
            [sys.executable, "-m", "indexer", "agent", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            body = ""
            deadline = time.monotonic() + 30
            while "indexer_agent_status_timestamp_seconds " not in body:
                assert agent.poll() is None and time.monotonic() < deadline, agent.stderr
                time.sleep(0.1)
                with contextlib.suppress(OSError):
                    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read()
                    body = body.decode()
                    if "indexer_agent_status_timestamp_seconds 0.0" in body:
                        body = ""  # not measured yet
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.communicate()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    assert values["indexer_agent_filebeat_up"] == 1.0
    assert values["indexer_agent_filebeat_output_events_acked_total"] == 1200.0
    assert values["indexer_agent_filebeat_unshipped_bytes"] == unshipped
    assert values["indexer_agent_logs_volume_size_bytes"] > 0
    assert values["indexer_agent_rotation_last_slot_timestamp_seconds"] > 0
    assert (
        values["indexer_agent_rotation_due_slot_timestamp_seconds"]
        >= (values["indexer_agent_rotation_last_slot_timestamp_seconds"])
    )
