"""`indexer demo`: the whole indexer, end to end, on embedded servers, in about half a minute.

It produces a realistic filebeat stream (a few namespaces, apps and pods over two days, with some
malformed lines), runs the real pipeline against it, then shows the indices, the dead letters, the
lines per log.level of each app (the level each line gave, indexer/structured.py), a search,
where each malformed message went (the counts add up to what was produced), the `indexer logs`
commands that read the logs back (and one of them, run), and what to do next; then it stops
everything. The search server is dressed as a default Elasticsearch 8.x, with
the built-in templates a fresh cluster has (`indexer.embedded`); `--product opensearch` dresses it
as OpenSearch instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from indexer.cluster import SearchClient, connect
from indexer.embedded import EmbeddedUnavailable, Product, embedded_servers
from indexer.log import configure_logging
from indexer.main import build_indexer
from indexer.sample import sources, stream
from indexer.settings import ElasticsearchSettings, LogSettings, Settings, load_settings

TOPIC = "filebeat-demo"
MALFORMED: list[tuple[str, bytes]] = [
    ("not JSON", b"GET /healthz 200 - this line never went through filebeat's JSON encoder"),
    ("a JSON array", b'["an", "array", "not", "an", "event"]'),
    ("invalid UTF-8", b'{"message": "caf\xe9 latin-1 bytes"}'),
    (
        "a path no layout matches",
        b'{"@timestamp":"2026-01-01T00:00:00.000Z","message":"from a host file",'
        b'"log":{"file":{"path":"/var/log/syslog"}}}',
    ),
    (
        "no @timestamp",
        b'{"message":"no timestamp here","log":{"file":'
        b'{"path":"/data/logs/payments/api/api-7d4b9c8f6-b0001/log/app.log"}}}',
    ),
]


def run_demo(events_per_app_day: int = 40, product: Product = "elasticsearch") -> int:
    configure_logging(LogSettings(level="warning", format="console"))
    try:
        with embedded_servers(product) as (kafka, _, proxy):
            print(
                f"embedded Kafka broker on 127.0.0.1:{kafka.port}, a default {product} "
                f"(ES-API server behind a test-bed proxy) at {proxy.url}"
            )
            return _demo(f"127.0.0.1:{kafka.port}", proxy.url, events_per_app_day, product)
    except EmbeddedUnavailable as exc:
        print(f"indexer demo: {exc}", file=sys.stderr)
        return 1


def _demo(bootstrap: str, es_url: str, per_app_day: int, product: Product) -> int:
    srcs = sources(namespaces=3, apps=2, pods=2)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    count = per_app_day * 6 * 2
    _produce(bootstrap, srcs, count, today - timedelta(days=1))
    expected = count + len(MALFORMED)
    print(f"produced {count} filebeat events and {len(MALFORMED)} malformed messages to {TOPIC}")

    settings = load_settings(
        kafka={
            "bootstrap_servers": bootstrap,
            "options": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
        },
        elasticsearch={"hosts": [es_url]},
        metrics={"port": 0, "host": "127.0.0.1"},
        batch={"max_age_seconds": 0.2},
    )
    indexer = build_indexer(settings)
    assert indexer is not None
    worker = threading.Thread(target=indexer.pipeline.run, name="pipeline")
    started = time.monotonic()
    worker.start()
    es = connect(ElasticsearchSettings(hosts=[es_url]))
    try:
        _wait_for(es, settings.routing.index_prefix, expected, timeout=60)
    finally:
        indexer.pipeline.stop()
        worker.join(60)
        indexer.close()
    print(f"indexed in {time.monotonic() - started:.1f} s; the indexer drained and committed\n")
    _show(es, settings.routing.index_prefix)
    _show_malformed(es, settings.routing.index_prefix, expected)
    es.close()
    namespaces = sorted({source.namespace for source in srcs})
    if product == "elasticsearch":
        _show_kibana(settings, namespaces)
    else:
        _show_dashboards(settings, namespaces)
    _show_reading(es_url, settings.routing.index_prefix, srcs[0])
    _show_next(product)
    return 0


def _malformed_ids() -> list[tuple[str, str]]:
    """(what, `_id`) of each malformed message: where it went can be looked up by its id, in
    whichever index holds it (docid.py: a decodable event's id, else the bytes' own)."""
    from indexer.docid import event_id, message_id

    found = []
    for what, value in MALFORMED:
        try:
            event = json.loads(value)
        except ValueError:
            event = None
        doc_id = event_id(event, value) if isinstance(event, dict) else message_id(value)
        found.append((what, doc_id.decode()))
    return found


def _show_malformed(es: SearchClient, prefix: str, produced: int) -> None:
    """Where each malformed message went, and the totals that add up to what was produced."""
    ids = _malformed_ids()
    answer = es.request(
        "POST",
        f"/{prefix}-*/_search",
        {"query": {"ids": {"values": [i for _, i in ids]}}, "size": len(ids), "_source": ["error"]},
    )
    where = {hit["_id"]: hit for hit in answer["hits"]["hits"]}
    print(f"\nwhere the {len(MALFORMED)} malformed messages went:")
    for what, doc_id in ids:
        hit = where.get(doc_id)
        if hit is None:
            print(f"  {what:<26} not found")
            continue
        index = hit["_index"]
        if "-deadletter-" in index:
            kind = f"dead letter ({hit['_source'].get('error', {}).get('type', '?')})"
        elif "-unmatched-" in index:
            kind = "unmatched (no layout knows its path)"
        else:
            kind = "indexed in its app's index (day of its Kafka time)"
        print(f"  {what:<26} {kind:<52} {index}")
    options = {"allow_no_indices": "true", "ignore_unavailable": "true"}
    counts = {
        name: int(es.request("GET", f"/{prefix}-{pattern}/_count", params=options)["count"])
        for name, pattern in (
            ("in apps' indices", "*_*"),
            ("unmatched", "unmatched-*"),
            ("dead letters", "deadletter-*"),
        )
    }
    total = sum(counts.values())
    parts = " + ".join(f"{count} {name}" for name, count in counts.items())
    verdict = "all accounted for" if total == produced else "MISSING SOME"
    print(f"  produced {produced} messages = {parts} = {total}: {verdict}")


def _show_reading(es_url: str, prefix: str, source: Any) -> None:
    """The `indexer logs` commands that read the demo's logs back, and one of them, run."""
    from indexer.logs.cli import Plan, read_logs
    from indexer.logs.cli import register as register_logs

    pod = f"{source.namespace}/{source.app}/{source.pod}"
    print("\nread the logs back from the terminal, like kubectl logs (docs/reading-logs.md):")
    for command, what in (
        (f"indexer logs {source.namespace}", "a namespace, oldest first"),
        (f"indexer logs {source.namespace}/{source.app} --level error", "one app, errors+"),
        (f"indexer logs {pod} --tail 20 -f", "one pod: the last 20, then new lines"),
        (f'indexer logs {source.namespace} --grep "slow query" -o wide', "a phrase, columns"),
    ):
        print(f"  {command:<64} # {what}")
    args = ["logs", pod, "--tail", "5", "-o", "wide"]
    print(f"\n$ INDEXER_ELASTICSEARCH__HOSTS='[\"{es_url}\"]' indexer {' '.join(args)}")
    # The `logs` command alone: the demo is itself a command of `indexer.cli`, not its user.
    parser = argparse.ArgumentParser(prog="indexer")
    register_logs(parser.add_subparsers(dest="command"))
    plan = Plan(parser.parse_args(args), prefix)
    sys.stdout.flush()
    read_logs(plan, ElasticsearchSettings(hosts=[es_url]), sys.stdout, colour=False)


def _show_next(product: Product) -> None:
    views = (
        "Kibana: indexer kibana setup"
        if product == "elasticsearch"
        else "OpenSearch Dashboards: indexer dashboards setup"
    )
    print(
        "\nnext:\n"
        "  settings   indexer config show; README.md, Running it (Kafka, cluster, credentials)\n"
        "  deploy     deploy/ (kustomize bases and overlays), docs/operations.md\n"
        "  apps       docs/application-logging.md (the s6 base image, what reaches the index)\n"
        f"  reading    docs/reading-logs.md (indexer logs); {views}"
    )


def _show_kibana(settings: Settings, namespaces: list[str]) -> None:
    """The data views `indexer kibana setup` (or the indexer, with kibana.url set) would
    create for these namespaces: a dry run, no Kibana needed."""
    from indexer.kibana.objects import desired, read_sources
    from indexer.kibana.setup import apply

    sources = read_sources(settings.kibana.objects_dir)
    wanted = desired(sources, settings.routing.index_prefix, namespaces, space_per_namespace=False)
    print("\nKibana data views it would create (indexer kibana setup --dry-run):")
    for view in apply(None, wanted, dry_run=True).requests:
        spec = view.body["data_view"]
        print(f"  {spec['title']:<24} {spec['name']!r:<28} time field {spec['timeFieldName']}")


def _show_dashboards(settings: Settings, namespaces: list[str]) -> None:
    """The OpenSearch Dashboards index patterns `indexer dashboards setup` would create for
    these namespaces: a dry run, no Dashboards needed."""
    from indexer.dashboards.objects import desired, read_sources
    from indexer.dashboards.setup import apply

    sources = read_sources(settings.dashboards.objects_dir)
    prefix = settings.routing.index_prefix
    wanted = desired(sources, prefix, namespaces, tenant_per_namespace=False)
    print(
        "\nOpenSearch Dashboards index patterns it would create (indexer dashboards setup "
        "--dry-run):"
    )
    for pattern in apply(None, None, wanted, dry_run=True).requests:
        attributes = pattern.body["attributes"]
        name = pattern.path.rsplit("/", 1)[1]
        print(f"  {attributes['title']:<24} {name:<24} time field {attributes['timeFieldName']}")


def _produce(bootstrap: str, srcs: list[Any], count: int, start: datetime) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, 3, 1)]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 10})
    for source, value in stream(srcs, count, start, days=2):
        producer.produce(TOPIC, value, key=source.path.encode())
    for _, value in MALFORMED:
        producer.produce(TOPIC, value)
    producer.flush(10)


def _wait_for(es: SearchClient, prefix: str, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    options = {"allow_no_indices": "true"}
    while time.monotonic() < deadline:
        es.request("POST", f"/{prefix}-*/_refresh", params=options)
        if es.request("GET", f"/{prefix}-*/_count", params=options)["count"] >= expected:
            return
        time.sleep(0.3)
    raise TimeoutError(f"fewer than {expected} documents after {timeout} s")


def _show(es: SearchClient, prefix: str) -> None:
    rows = es.request(
        "GET", f"/_cat/indices/{prefix}-*", params={"format": "json", "h": "index,docs.count"}
    )
    print(f"{'index':<44} {'documents':>9}")
    for row in sorted(rows, key=lambda r: r["index"]):
        print(f"{row['index']:<44} {row['docs.count']:>9}")

    letters = es.request(
        "POST",
        f"/{prefix}-deadletter-*/_search",
        {"size": 20, "sort": [{"kafka.offset": "asc"}]},
    )
    print(f"\ndead letters ({letters['hits']['total']['value']}):")
    for hit in letters["hits"]["hits"]:
        doc = hit["_source"]
        original = doc["event"].get("original") or "base64:" + doc["event"]["original_base64"]
        print(f"  {hit['_id']:<22} {doc['error']['type']:<16} {original[:60]!r}")

    _show_levels(es, prefix)

    query = {"bool": {"must": [{"match": {"message": "timeout"}}]}}
    result = es.request("POST", f"/{prefix}-payments_*/_search", {"query": query, "size": 2})
    total = result["hits"]["total"]["value"]
    print(f'\nsearch {prefix}-payments_* for message:"timeout": {total} hits, for example:')
    for hit in result["hits"]["hits"]:
        source = hit["_source"]
        print(
            "  "
            + json.dumps(
                {
                    "@timestamp": source["@timestamp"],
                    "kubernetes.namespace": source["kubernetes"]["namespace"],
                    "kubernetes.pod.name": source["kubernetes"]["pod"]["name"],
                    "service.name": source["service"]["name"],
                    "message": source["message"][:70],
                }
            )
        )


def _show_levels(es: SearchClient, prefix: str) -> None:
    """Lines per `log.level` of each app: the level each line gave (indexer/structured.py)."""
    by_app = {"terms": {"field": "service.name", "size": 100}}
    by_level = {"terms": {"field": "log.level", "size": 20, "missing": "-"}}
    body = {
        "size": 0,
        "aggs": {
            "namespaces": {
                "terms": {"field": "kubernetes.namespace", "size": 100},
                "aggs": {"apps": {**by_app, "aggs": {"levels": by_level}}},
            }
        },
    }
    result = es.request("POST", f"/{prefix}-*_*/_search", body)
    print('\nlines per log.level of each app ("-": the line gave none):')
    for namespace in sorted(result["aggregations"]["namespaces"]["buckets"], key=_key):
        for app in sorted(namespace["apps"]["buckets"], key=_key):
            levels = sorted(app["levels"]["buckets"], key=_key)
            counts = "  ".join(f"{level['key']} {level['doc_count']}" for level in levels)
            print(f"  {namespace['key'] + '/' + app['key']:<20} {counts}")


def _key(bucket: dict[str, Any]) -> str:
    return str(bucket["key"])
