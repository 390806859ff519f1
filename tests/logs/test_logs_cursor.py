"""The cursor's two fallbacks, on both beds: a point in time that expires mid-read is opened
again and the read goes on after the last line, and a cluster without point in time (OpenSearch
before 2.4: 400 "no handler") is paged with `search_after` alone; neither skips or repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from indexer.embedded import CompatProxy, Reply, ServerProcess
from indexer.sample import sources, stream
from tests.logs.helpers import index_through_indexer, run_logs, stored_sources

# End to end, and the product is the subject (its own answers): on both beds.
pytestmark = [pytest.mark.slow, pytest.mark.dialect]

# osmem's answer to a search on a freed point in time (the shape of OpenSearch's and
# Elasticsearch's: search_phase_execution_exception caused by search_context_missing_exception).
EXPIRED = orjson.dumps(
    {
        "error": {
            "root_cause": [
                {
                    "type": "search_context_missing_exception",
                    "reason": "No search context found for id [3]",
                }
            ],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
        },
        "status": 404,
    }
)


def test_an_expired_point_in_time_and_a_cluster_without_one_still_read_every_line_once(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(hours=3)
    values = [value for _, value in stream(sources(1, 1, 2), 2_500, start, days=0.1)]
    indexer, _ = index_through_indexer(kafka, es_proxy.url, values, tmp_path / "i.log")
    assert indexer.stop() == 0
    expected = [source["message"] for source in stored_sources(es_proxy.url)]
    assert len(expected) == 2_500

    searches = []

    def expire_once(method: str, path: str, body: bytes) -> Reply | None:
        if path.split("?", maxsplit=1)[0] == "/_search" and b'"pit"' in body:
            searches.append(path)
            if len(searches) == 2:  # the second page: the point in time is gone
                return Reply(404, EXPIRED)
        return None

    es_proxy.fault = expire_once
    es_proxy.requests.clear()
    result = run_logs(es_proxy.url, "payments/api")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
    opened = [
        r
        for r in es_proxy.requests
        if r.method == "POST"
        and ("/_search/point_in_time" in r.path or r.path.split("?")[0].endswith("/_pit"))
    ]
    assert len(opened) == 2  # once, then again after it expired

    def no_point_in_time(method: str, path: str, body: bytes) -> Reply | None:
        if "/_pit" in path or "/point_in_time" in path:
            uri = path.split("?", maxsplit=1)[0]
            return Reply(400, orjson.dumps({"error": f"no handler found for uri [{uri}] and "
                                                     f"method [{method}]"}))  # fmt: skip
        return None

    es_proxy.fault = no_point_in_time
    es_proxy.requests.clear()
    for flags in ((), ("--tail", "1200")):
        result = run_logs(es_proxy.url, "payments/api", *flags)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == (expected[-1200:] if flags else expected)
    pages = [orjson.loads(r.body) for r in es_proxy.requests if r.path.endswith("_search")
             or "/_search?" in r.path]  # fmt: skip
    assert pages and all("pit" not in page and "from" not in page for page in pages)
