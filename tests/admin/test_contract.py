"""ILM and ISM, which osmem lacks: the exact requests setup sends to a recording fake cluster."""

from __future__ import annotations

import json
from pathlib import Path

from elasticsearch import Elasticsearch

from indexer.admin.preparer import IndexPreparer
from indexer.admin.settings import DEFAULT_POLICIES_DIR
from indexer.admin.setup import run_setup
from indexer.embedded import CompatProxy

from .conftest import ES_ROOT, OS_ROOT, fake_cluster, make_settings, sent

POLICY_7D = json.loads((DEFAULT_POLICIES_DIR / "logs-7d.json").read_text())


def test_on_elasticsearch_setup_puts_ilm_policies_first_and_links_templates_to_them(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = fake_cluster(ES_ROOT)
    report = run_setup(client, make_settings(es_url, mode="auto"))
    assert report.cluster.lifecycle == "ilm"
    puts = sent(es_proxy, "PUT")
    assert [p for _, p, _ in puts] == [
        "/_ilm/policy/logs-30d",
        "/_ilm/policy/logs-7d",
        "/_component_template/logs-mappings",
        "/_component_template/logs-settings",
        "/_index_template/logs-deadletter",
        "/_index_template/logs-unmatched",
        "/_index_template/logs",
    ]
    bodies = {p: b for _, p, b in puts}
    assert bodies["/_ilm/policy/logs-7d"] == POLICY_7D
    for phase in bodies["/_ilm/policy/logs-30d"]["policy"]["phases"].values():
        assert "rollover" not in phase["actions"]
    logs = bodies["/_index_template/logs"]
    assert logs["template"] == {"settings": {"index.lifecycle.name": "logs-7d"}}
    assert logs["composed_of"] == ["logs-settings", "logs-mappings"]
    dead = bodies["/_index_template/logs-deadletter"]["template"]["settings"]
    assert dead["index.lifecycle.name"] == "logs-30d"
    unmatched = bodies["/_index_template/logs-unmatched"]["template"]["settings"]
    assert unmatched["index.lifecycle.name"] == "logs-7d"
    mappings = bodies["/_component_template/logs-mappings"]["template"]["mappings"]
    assert mappings["properties"]["kubernetes"]["properties"]["labels"] == {"type": "flattened"}


def test_on_elasticsearch_a_namespace_template_carries_its_ilm_policy(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = fake_cluster(ES_ROOT)
    settings = make_settings(es_url, mode="auto", namespace_policies={"payments": "logs-30d"})
    IndexPreparer(client, settings).ensure("logs-payments_api-2026.11.26")
    puts = sent(es_proxy, "PUT")
    assert [p for _, p, _ in puts] == [
        "/_index_template/logs-ns-payments?create=true",
        "/logs-payments_api-2026.11.26",
    ]
    body = puts[0][2]
    assert body["index_patterns"] == ["logs-payments_*"]
    assert body["priority"] == 150
    assert body["composed_of"] == ["logs-settings", "logs-mappings"]
    assert body["template"] == {"settings": {"index.lifecycle.name": "logs-30d"}}


def test_on_opensearch_setup_translates_policies_to_ism_with_ism_templates(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = fake_cluster(OS_ROOT)
    settings = make_settings(es_url, mode="auto", namespace_policies={"pay*": "logs-30d"})
    report = run_setup(client, settings)
    assert report.cluster.lifecycle == "ism"
    puts = {p: b for _, p, b in sent(es_proxy, "PUT")}
    assert puts["/_plugins/_ism/policies/logs-7d"] == {
        "policy": {
            "description": "log-indexer: ilm/logs-7d.json version 1, translated to ISM",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"index_priority": {"priority": 100}}],
                    "transitions": [{"state_name": "warm", "conditions": {"min_index_age": "2d"}}],
                },
                {
                    "name": "warm",
                    "actions": [
                        {"index_priority": {"priority": 50}},
                        {"force_merge": {"max_num_segments": 1}},
                    ],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": "7d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [
                {"index_patterns": ["logs-unmatched-*"], "priority": 200},
                {"index_patterns": ["logs-*"], "priority": 100},
            ],
        }
    }
    thirty = puts["/_plugins/_ism/policies/logs-30d"]["policy"]
    assert thirty["ism_template"] == [
        {"index_patterns": ["logs-deadletter-*"], "priority": 200},
        {"index_patterns": ["logs-pay*_*"], "priority": 199},
    ]
    for path, body in puts.items():
        if path.startswith("/_index_template/"):
            assert "lifecycle" not in json.dumps(body.get("template", {})), path
    labels = puts["/_component_template/logs-mappings"]["template"]["mappings"]["properties"][
        "kubernetes"
    ]["properties"]["labels"]
    assert labels == {"type": "flat_object"}


def test_an_existing_ism_policy_is_updated_with_its_sequence_number(
    client: Elasticsearch, es_url: str, es_proxy: CompatProxy
) -> None:
    base = fake_cluster(OS_ROOT)
    old = {
        "_id": "logs-7d",
        "_seq_no": 12,
        "_primary_term": 3,
        "policy": {
            "description": "log-indexer: ilm/logs-7d.json version 0, translated to ISM",
            "default_state": "hot",
            "states": [],
        },
    }

    def answer(method: str, path: str, body: bytes):  # type: ignore[no-untyped-def]
        from indexer.embedded import Reply

        if method == "GET" and path == "/_plugins/_ism/policies/logs-7d":
            return Reply(200, json.dumps(old).encode())
        return base(method, path, body)

    es_proxy.fault = answer
    run_setup(client, make_settings(es_url, mode="ism"))
    paths = [p for _, p, _ in sent(es_proxy, "PUT")]
    assert "/_plugins/_ism/policies/logs-7d?if_seq_no=12&if_primary_term=3" in paths
    assert "/_plugins/_ism/policies/logs-30d" in paths


def test_shipped_policies_are_the_files_in_the_repository_root() -> None:
    root = Path(__file__).resolve().parents[2] / "ilm"
    assert json.loads((root / "logs-7d.json").read_text()) == POLICY_7D
