"""`indexer logs -f` on both beds, with lines indexed by the real indexer while it follows: a new
day's index, lines older than those already shown, lines searchable late within the bound
(shown once) and beyond it (not shown: the rule is docs/reading-logs.md's)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from indexer.embedded import CompatProxy, Reply, ServerProcess
from indexer.encode import encode_event, ingested_field
from indexer.route import Router
from indexer.sample import Source, event, sources, stream
from indexer.settings import RoutingSettings
from tests.logs.helpers import Following, index_through_indexer, run_logs, wait_until_indexed
from tests.support import cluster, days_ago, documents, produce

# End to end, and the product is the subject (its own answers): on both beds.
pytestmark = [pytest.mark.slow, pytest.mark.dialect]


def _record(source: dict[str, Any]) -> tuple[str, int, int]:
    kafka = source["kafka"]
    return (kafka["topic"], kafka["partition"], kafka["offset"])


def _write_as_the_indexer(
    es_url: str, source: Source, offset: int, stamped_ago: float, when: Any
) -> tuple[str, int, int]:
    """One document as the indexer writes it (routed, encoded with its Kafka record and an
    `event.ingested` stamped `stamped_ago` seconds before it is written): a line that becomes
    searchable that long after the indexer took it."""
    import random

    doc = event(source, when, offset, random.Random(offset))
    doc.pop("@metadata")
    index = Router(RoutingSettings()).route(doc, time.time())
    stamp = ingested_field(time.time() - stamped_ago)
    body = encode_event(index, b"late-%d" % offset, doc, b"", "filebeat-late", 0, offset, stamp)
    client = cluster(es_url)
    try:
        answer = client.bulk(body, "errors,items.*.status")
    finally:
        client.close()
    assert answer["errors"] is False, answer
    return ("filebeat-late", 0, offset)


def test_follow_goes_on_across_a_new_day_and_shows_every_late_line_once(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    src = sources(1, 1, 2)  # payments/api, two pods
    two_days_ago = days_ago(2)
    before = [v for _, v in stream(src, 40, two_days_ago, days=0.01)]
    indexer, _ = index_through_indexer(kafka, es_proxy.url, before, tmp_path / "i.log")
    indices_before = {index for index, _ in documents(es_proxy.url).values()}
    assert len(indices_before) == 1

    following = Following(
        es_proxy.url,
        ("payments/api", "-f", "-o", "json", "--interval", "200ms", "--lateness", "10s"),
    ).start()
    try:
        following.wait_for_lines(40)
        # The last seconds of yesterday and the first of today: two indices that did not exist.
        midnight = days_ago(0)
        across = [v for _, v in stream(src, 20, midnight - timedelta(seconds=10), 20 / 86400, 8)]
        bootstrap = f"127.0.0.1:{kafka.port}"
        produce(bootstrap, "filebeat-apps", across, partitions=2)
        wait_until_indexed(indexer, 60)
        # Then lines older than every line shown since: they go to the first day's index.
        older = [v for _, v in stream(src, 10, two_days_ago + timedelta(hours=1), 0.001, 9)]
        produce(bootstrap, "filebeat-apps", older, partitions=2)
        wait_until_indexed(indexer, 70)
        following.wait_for_lines(70)
        # Searchable 5 s after the indexer took it: within the 10 s bound, shown.
        late = _write_as_the_indexer(es_proxy.url, src[0], 1, 5, midnight - timedelta(hours=3))
        following.wait_for_lines(71)
        # 60 s after: beyond the bound, not shown by -f (a read with --from finds it).
        too_late = _write_as_the_indexer(es_proxy.url, src[1], 2, 60, midnight)
        time.sleep(2)  # ten polls
    finally:
        code, stderr = following.stop()
    assert code == 0, stderr
    assert indexer.stop() == 0

    shown = [_record(orjson.loads(line)) for line in following.lines]
    assert len(shown) == len(set(shown)), "a line shown twice"
    stored = {
        _record(source): (index, source) for index, source in documents(es_proxy.url).values()
    }
    assert set(shown) == set(stored) - {too_late}
    assert late in shown
    assert len({index for index, _ in stored.values()} - indices_before) == 2  # the new days
    first = [orjson.loads(line) for line in following.lines[:40]]
    stamps = [(s["@timestamp"], s["log"]["offset"]) for s in first]
    assert stamps == sorted(stamps)


def test_a_forbidden_namespace_is_one_line_and_exit_1(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    values = [v for _, v in stream(sources(1, 1, 1), 10, days_ago(1), days=0.01)]
    indexer, _ = index_through_indexer(kafka, es_proxy.url, values, tmp_path / "i.log")
    assert indexer.stop() == 0
    # What each product answers a search on indices the key may not read: Elasticsearch
    # (x-pack security, "action [...] is unauthorized for API key id [...] ... on indices [...]")
    # and the OpenSearch security plugin ("no permissions for [...] and User [...]", as in its
    # documentation's access-control examples).
    reason = {
        "elasticsearch": "action [indices:data/read/search] is unauthorized for API key id "
        "[VuaCfGcBCdbkQm-e5aOx] of user [dev] on indices [k8s-logs-secret_api-2026.12.01], this "
        "action is granted by the index privileges [read,all]",
        "opensearch": "no permissions for [indices:data/read/search] and User [name=dev, "
        "backend_roles=[], requestedTenant=null]",
    }[es_proxy.product]
    body = orjson.dumps(
        {
            "error": {
                "root_cause": [{"type": "security_exception", "reason": reason}],
                "type": "security_exception",
                "reason": reason,
            },
            "status": 403,
        }
    )

    def forbid(method: str, path: str, data: bytes) -> Reply | None:
        return Reply(403, body) if "k8s-logs-secret_" in path else None

    es_proxy.fault = forbid
    for flags in ((), ("--tail", "5"), ("-f",)):
        result = run_logs(es_proxy.url, "secret", *flags)
        assert result.returncode == 1, result
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("indexer logs: these credentials may not read k8s-logs-secret_*")
        assert "403 security_exception" in line
    allowed = run_logs(es_proxy.url, "payments")
    assert allowed.returncode == 0 and len(allowed.stdout.splitlines()) == 10

    # A key without `monitor` may not ask GET / which product answers: say how to skip it.
    def no_monitor(method: str, path: str, data: bytes) -> Reply | None:
        return Reply(403, body) if path.split("?", maxsplit=1)[0] == "/" else None

    es_proxy.fault = no_monitor
    result = run_logs(es_proxy.url, "payments")
    assert result.returncode == 1 and "INDEXER_ELASTICSEARCH__DISTRIBUTION" in result.stderr
    result = run_logs(
        es_proxy.url, "payments", env={"INDEXER_ELASTICSEARCH__DISTRIBUTION": es_proxy.product}
    )
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 10, result.stderr


def test_an_unreachable_cluster_is_one_line_and_exit_1() -> None:
    from indexer.embedded import free_port

    url = f"http://127.0.0.1:{free_port()}"
    for env in ({}, {"INDEXER_ELASTICSEARCH__DISTRIBUTION": "opensearch"}):
        result = run_logs(url, "payments", env=env)
        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"indexer logs: cannot reach the cluster at {url}"), line
