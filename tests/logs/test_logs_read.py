"""`indexer logs` on both beds, with a stream indexed by the real indexer: order, the target's
three depths, --tail, --from/--to, --level, --grep, the output formats, a read past the search
window in flat memory, and read-only use of the cluster."""

from __future__ import annotations

import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from indexer.cli import build_parser
from indexer.embedded import CompatProxy, ServerProcess
from indexer.logs.cli import Plan, read_logs
from indexer.logs.query import LEVEL_RANKS
from indexer.sample import sources, stream
from indexer.settings import ElasticsearchSettings
from tests.logs.helpers import index_through_indexer, run_logs, stored_sources
from tests.support import days_ago

# End to end, and the product is the subject (its own answers): on both beds.
pytestmark = [pytest.mark.slow, pytest.mark.dialect]

# What a reader may send: searches, the product's own point-in-time routes, and `GET /`.
READ_ONLY = ("/_search", "/_pit", "/_search/point_in_time")


def _lines(sources: list[dict[str, Any]]) -> list[str]:
    return [source["message"] for source in sources]


def _stamp(source: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(source["@timestamp"])


def test_a_namespace_an_app_and_a_pod_read_back_oldest_first_with_every_filter(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    values = [value for _, value in stream(sources(2, 2, 2), 800, days_ago(2), days=2)]
    indexer, produced = index_through_indexer(kafka, es_proxy.url, values, tmp_path / "i.log")
    assert indexer.stop() == 0
    stored = stored_sources(es_proxy.url)
    assert len(stored) == len(produced)
    es_proxy.requests.clear()

    namespace = [s for s in stored if s["kubernetes"]["namespace"] == "payments"]
    app = [s for s in namespace if s["service"]["name"] == "api"]
    pod_name = app[0]["kubernetes"]["pod"]["name"]
    pod = [s for s in app if s["kubernetes"]["pod"]["name"] == pod_name]
    assert 0 < len(pod) < len(app) < len(namespace) < len(stored)

    for target, expected in (("payments", namespace), ("payments/api", app)):
        result = run_logs(es_proxy.url, target)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == _lines(expected), target
        assert "\x1b" not in result.stdout  # a pipe gets no colour
    result = run_logs(es_proxy.url, f"payments/api/{pod_name}")
    assert result.stdout.splitlines() == _lines(pod)

    result = run_logs(es_proxy.url, "payments/api", "--tail", "7")
    assert result.stdout.splitlines() == _lines(app[-7:])
    result = run_logs(es_proxy.url, "payments/api", "--tail", "0")
    assert result.returncode == 0 and result.stdout == ""

    start, end = _stamp(app[len(app) // 3]), _stamp(app[2 * len(app) // 3])
    window = [s for s in app if start <= _stamp(s) < end]
    result = run_logs(
        es_proxy.url, "payments/api", "--from", start.isoformat(), "--to", end.isoformat()
    )
    assert result.stdout.splitlines() == _lines(window)
    result = run_logs(es_proxy.url, "payments/api", "--since", "1000d")
    assert result.stdout.splitlines() == _lines(app)

    # --level warn: warn, warning (klog W), error... whatever the line spelled.
    worse = [s for s in app if LEVEL_RANKS.get(s.get("log", {}).get("level", ""), -1) >= 4]
    assert {s["log"]["level"] for s in worse} >= {"warn", "error"}
    result = run_logs(es_proxy.url, "payments/api", "--level", "WARNING")
    assert result.stdout.splitlines() == _lines(worse)

    declined = [s for s in namespace if "payment declined" in s["message"]]
    assert declined
    result = run_logs(es_proxy.url, "payments", "--grep", "payment declined")
    assert result.stdout.splitlines() == _lines(declined)

    result = run_logs(es_proxy.url, "payments/api", "-o", "json")
    read = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [r["kafka"] for r in read] == [s["kafka"] for s in app]
    assert read[0] == app[0]
    result = run_logs(es_proxy.url, f"payments/api/{pod_name}", "-o", "wide")
    for line, source in zip(result.stdout.splitlines(), pod, strict=True):
        stamp, pod_column, _container, level, text = line.split(" ", 4)
        assert (stamp, pod_column) == (source["@timestamp"], pod_name)
        assert text.strip() == source["message"]
        assert level == source.get("log", {}).get("level", "-").upper()

    result = run_logs(es_proxy.url, "nosuchns")
    assert (result.returncode, result.stdout) == (0, "")

    for request in es_proxy.requests:  # it never writes
        path = request.path.split("?", 1)[0]
        assert (request.method == "GET" and path == "/") or path.endswith(READ_ONLY), request


def test_bad_flags_exit_2_with_one_line(es_proxy: CompatProxy) -> None:
    for args in (
        ("payments", "--since", "ten minutes"),
        ("payments", "--from", "yesterday"),
        ("payments", "--level", "loud"),
        ("pay*ments",),
        ("payments", "-f", "--to", "2026-12-01T00:00:00Z"),
        ("payments", "--since", "1h", "--from", "2026-12-01T00:00:00Z"),
    ):
        result = run_logs(es_proxy.url, *args)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("indexer logs: "), result.stderr


def test_a_read_past_the_search_window_pages_with_a_cursor_in_flat_memory(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    total = 12_000
    start = datetime.now(UTC) - timedelta(hours=6)
    values = [value for _, value in stream(sources(1, 1, 2), total, start, days=0.2)]
    indexer, _ = index_through_indexer(kafka, es_proxy.url, values, tmp_path / "i.log", 3)
    assert indexer.stop() == 0
    stored = stored_sources(es_proxy.url)
    assert len(stored) == total
    es_proxy.requests.clear()
    settings = ElasticsearchSettings(hosts=[es_proxy.url])

    def peak(*flags: str) -> tuple[int, list[str]]:
        plan = Plan(build_parser().parse_args(["logs", "payments/api", *flags]), "k8s-logs")
        out = _LastLines()
        tracemalloc.start()
        try:
            assert read_logs(plan, settings, out, colour=False) == 0
            return tracemalloc.get_traced_memory()[1], out.tail
        finally:
            tracemalloc.stop()

    small, small_tail = peak("--tail", "1000")
    everything, tail = peak()
    long_tail, _ = peak("--tail", "11000")
    print(
        f"peak traced memory: 1,000 lines {small / 1e6:.2f} MB, {total:,} lines "
        f"{everything / 1e6:.2f} MB, --tail 11000 {long_tail / 1e6:.2f} MB"
    )
    assert tail == small_tail == _lines(stored[-len(tail) :])
    assert _LastLines.counted[-3:] == [1000, total, 11000]
    # One page (1,000 documents) is held at a time: 12x the lines, about the same memory.
    assert everything < 1.5 * small + 2_000_000
    assert long_tail < 1.5 * small + 2_000_000
    searches = [
        orjson.loads(r.body) for r in es_proxy.requests if r.path.split("?")[0] == "/_search"
    ]
    assert len(searches) >= total // 1000
    assert all("from" not in body and body["size"] <= 1000 for body in searches)
    assert all("pit" in body for body in searches)


class _LastLines(io.StringIO):
    """A sink that counts the lines and keeps only the last 50 (the test must not hold them)."""

    counted: list[int] = []

    def __init__(self) -> None:
        super().__init__()
        self.tail: list[str] = []
        self.lines = 0
        _LastLines.counted.append(0)

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        _LastLines.counted[-1] = self.lines
        self.tail = (self.tail + text.splitlines())[-50:]
        return len(text)
