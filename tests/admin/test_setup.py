"""Setup against the real ES-API server (osmem): templates applied and used, idempotence,
version rules, dry run, diff, label and dead-letter mappings that never reject."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import BadRequestError, Elasticsearch

from indexer.admin.setup import run_setup
from indexer.cli import main
from indexer.deadletter import deadletter_document
from indexer.embedded import CompatProxy

from .conftest import make_settings, sent


def test_setup_puts_every_template_and_a_new_daily_index_uses_their_mappings(
    client: Elasticsearch, es_url: str
) -> None:
    report = run_setup(client, make_settings(es_url))
    assert {(o.kind, o.name, o.action) for o in report.outcomes} == {
        ("component_template", "logs-settings", "create"),
        ("component_template", "logs-mappings", "create"),
        ("index_template", "logs", "create"),
        ("index_template", "logs-deadletter", "create"),
        ("index_template", "logs-unmatched", "create"),
    }
    client.indices.create(index="logs-shop_cart-2026.11.26")
    mapping = client.indices.get_mapping(index="logs-shop_cart-2026.11.26")
    properties = mapping["logs-shop_cart-2026.11.26"]["mappings"]["properties"]
    assert properties["kubernetes"]["properties"]["labels"]["type"] == "flat_object"
    assert properties["service"]["properties"]["name"] == {"type": "keyword", "ignore_above": 1024}
    assert properties["message"]["type"] == "text"
    settings = client.indices.get_settings(index="logs-shop_cart-2026.11.26")
    index = settings["logs-shop_cart-2026.11.26"]["settings"]["index"]
    assert index["mapping"]["total_fields"]["limit"] == "2000"
    assert "lifecycle" not in index  # OpenSearch refuses index.lifecycle.*


def test_a_label_pair_that_collides_under_naive_mappings_indexes_fine(
    client: Elasticsearch, es_url: str
) -> None:
    first = {"kubernetes": {"labels": {"app.kubernetes.io/name": "cart"}}, "message": "a"}
    second = {"kubernetes": {"labels": {"app": "cart"}}, "message": "b"}
    client.index(index="naive", document=first)
    with pytest.raises(BadRequestError, match="mapper_parsing_exception"):
        client.index(index="naive", document=second)  # the collision is real without templates

    run_setup(client, make_settings(es_url))
    client.index(index="logs-shop_cart-2026.11.26", document=first)
    client.index(index="logs-shop_cart-2026.11.26", document=second, refresh=True)
    assert client.count(index="logs-shop_cart-2026.11.26")["count"] == 2


@pytest.mark.parametrize(
    "document",
    [
        {"@timestamp": "not a date", "error": "a string where an object was"},
        {"@timestamp": {"an": "object"}, "kafka": {"offset": "eleven"}, "event": {"x": [1, {}]}},
        {"log": "not an object", "message": {"nested": ["a", 1]}, "kubernetes": 5},
    ],
)
def test_the_unmatched_index_accepts_documents_of_any_shape(
    client: Elasticsearch, es_url: str, document: dict[str, Any]
) -> None:
    run_setup(client, make_settings(es_url))
    for _ in range(2):  # the second copy meets whatever the first one mapped
        assert client.index(index="logs-unmatched-2026.11.26", document=document)["result"] == (
            "created"
        )


def test_the_dead_letter_index_accepts_every_dead_letter_the_indexer_writes(
    client: Elasticsearch, es_url: str
) -> None:
    run_setup(client, make_settings(es_url))
    letters = [
        deadletter_document(
            value=value,
            topic="filebeat",
            partition=3,
            offset=17,
            kafka_seconds=1795651200.0,
            error_type=error_type,
            reason=reason,
            target_index=target,
        )
        for value, error_type, reason, target in [
            (b'{"message": "x"}', "mapper_parsing_exception", "failed to parse", "logs-a_b-2026"),
            (b"\xff\xfe not utf-8", "decode_error", "invalid start byte", None),
            (b"", "decode_error", "x" * 5000, None),
            (b'{"@timestamp": {"a": 1}}' * 500, "illegal_argument_exception", "", "logs-x"),
        ]
    ]
    for letter in letters:
        assert client.index(index="logs-deadletter-2026.11.26", document=letter)["result"] == (
            "created"
        )


def test_a_second_setup_changes_nothing_and_sends_no_put(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    es_proxy.requests.clear()
    report = run_setup(client, settings)
    assert {o.action for o in report.outcomes} == {"unchanged"}
    assert sent(es_proxy, "PUT") == []


def test_a_higher_version_on_the_cluster_is_never_overwritten(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    client.indices.put_index_template(
        name="logs", index_patterns=["logs-*"], version=7, priority=100
    )
    es_proxy.requests.clear()
    report = run_setup(client, make_settings(es_url), overwrite=True)
    (outcome,) = [o for o in report.outcomes if o.name == "logs"]
    assert outcome.action == "newer-on-cluster"
    assert ("PUT", "/_index_template/logs") not in [(m, p) for m, p, _ in sent(es_proxy, "PUT")]
    assert (
        client.indices.get_index_template(name="logs")["index_templates"][0]["index_template"][
            "version"
        ]
        == 7
    )


def test_a_same_version_copy_that_differs_is_a_conflict_replaced_only_with_overwrite(
    client: Elasticsearch, es_url: str
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    client.indices.put_index_template(
        name="logs", index_patterns=["logs-*"], version=1, priority=100, composed_of=[]
    )
    report = run_setup(client, settings)
    (conflict,) = report.conflicts
    assert conflict.name == "logs"
    assert any("composed_of" in d for d in conflict.differences)
    stored = client.indices.get_index_template(name="logs")["index_templates"][0]
    assert stored["index_template"]["composed_of"] == []

    report = run_setup(client, settings, overwrite=True)
    assert [o.action for o in report.outcomes if o.name == "logs"] == ["replace"]
    stored = client.indices.get_index_template(name="logs")["index_templates"][0]
    assert stored["index_template"]["composed_of"] == ["logs-settings", "logs-mappings"]


def test_an_older_version_on_the_cluster_is_updated(client: Elasticsearch, es_url: str) -> None:
    client.cluster.put_component_template(name="logs-settings", template={}, version=0)
    report = run_setup(client, make_settings(es_url))
    assert [o.action for o in report.outcomes if o.name == "logs-settings"] == ["update"]


def test_a_dry_run_prints_the_requests_and_sends_no_put(
    es_url: str,
    es_proxy: CompatProxy,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    monkeypatch.setenv("INDEXER_LIFECYCLE__MODE", "sweeper")
    assert main(["setup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "PUT /_index_template/logs\n{" in out
    assert "PUT /_component_template/logs-mappings\n{" in out
    assert sent(es_proxy, "PUT") == []


def test_diff_lists_what_differs_between_files_and_cluster(
    client: Elasticsearch,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    monkeypatch.setenv("INDEXER_LIFECYCLE__MODE", "sweeper")
    run_setup(client, make_settings(es_url))
    client.indices.put_index_template(
        name="logs-unmatched", index_patterns=["logs-unmatched-*"], version=1, priority=300
    )
    assert main(["templates", "diff", "--exit-code"]) == 1
    out = capsys.readouterr().out
    assert "index_template logs-unmatched: conflict (file v1, cluster v1)" in out
    assert "$.priority: file=200 cluster=300" in out
    assert "1 of 5 objects differ" in out


def test_setup_exits_1_and_names_the_object_when_the_cluster_refuses_it(
    client: Elasticsearch,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    monkeypatch.setenv("INDEXER_LIFECYCLE__MODE", "ilm")  # osmem has no ILM: refused
    assert main(["setup"]) == 1
    assert "refused reading ilm_policy" in capsys.readouterr().err
