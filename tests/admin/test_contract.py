"""Request-contract tests for ILM and ISM, which osmem lacks: the exact requests setup sends.

Only the lifecycle endpoints are answered by a rule of the test's own (with the bodies the real
APIs answer); everything else goes to the real server behind the test bed, so templates and
components are really applied. These tests prove what is sent (hence their names), not what ILM
or ISM then do: neither has met a real cluster here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import orjson
import pytest

from indexer.admin.preparer import IndexPreparer
from indexer.admin.settings import DEFAULT_POLICIES_DIR
from indexer.admin.setup import run_setup
from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy, Reply

from .conftest import make_settings, sent

POLICY_7D = json.loads((DEFAULT_POLICIES_DIR / "k8s-logs-7d.json").read_text())
ACK = b'{"acknowledged": true}'
MISSING = (
    b'{"error": {"type": "resource_not_found_exception", "reason": "not found"}, "status": 404}'
)
Rule = Callable[[str, str, bytes], Reply | None]


def ilm_endpoints() -> Rule:
    """Answers `_ilm/*` as an empty cluster with ILM would. Template bodies go on to osmem with
    `index.lifecycle.*` left out, since osmem refuses those settings (it has no ILM)."""

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if path.startswith("/_ilm/status"):
            return Reply(200, b'{"operation_mode": "RUNNING"}')
        if path.startswith("/_ilm/policy/"):
            return Reply(404, MISSING) if method == "GET" else Reply(200, ACK)
        if method == "PUT" and b"index.lifecycle." in body:
            document = orjson.loads(body)
            settings = document.get("template", {}).get("settings", {})
            for key in [k for k in settings if k.startswith("index.lifecycle.")]:
                del settings[key]
            return Reply(forward=True, send=orjson.dumps(document))
        return None

    return rule


def ism_endpoints(existing: dict[str, bytes] | None = None) -> Rule:
    """Answers `_plugins/_ism/*` as OpenSearch with the ISM plugin would."""
    existing = existing or {}

    def rule(method: str, path: str, body: bytes) -> Reply | None:
        if not path.startswith("/_plugins/_ism/"):
            return None
        name = re.sub(r"\?.*", "", path).rsplit("/", 1)[-1]
        if method == "GET" and name == "policies":
            return Reply(200, b'{"policies": [], "total_policies": 0}')
        if method == "GET":
            return Reply(200, existing[name]) if name in existing else Reply(404, MISSING)
        return Reply(201, b'{"_id": "%s", "_seq_no": 0, "_primary_term": 1}' % name.encode())

    return rule


@pytest.mark.parametrize("product", ["elasticsearch"])
def test_request_contract_on_elasticsearch_setup_puts_ilm_policies_first_and_links_templates_to_them(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = ilm_endpoints()
    report = run_setup(client, make_settings(es_url, mode="auto"))
    assert report.cluster.lifecycle == "ilm"
    puts = sent(es_proxy, "PUT")
    assert [p for _, p, _ in puts] == [
        "/_ilm/policy/k8s-logs-30d",
        "/_ilm/policy/k8s-logs-7d",
        "/_component_template/k8s-logs-mappings",
        "/_component_template/k8s-logs-settings",
        "/_index_template/k8s-logs-apps",
        "/_index_template/k8s-logs-deadletter",
        "/_index_template/k8s-logs-unmatched",
    ]
    bodies = {p: b for _, p, b in puts}
    assert bodies["/_ilm/policy/k8s-logs-7d"] == POLICY_7D
    for phase in bodies["/_ilm/policy/k8s-logs-30d"]["policy"]["phases"].values():
        assert "rollover" not in phase["actions"]
    logs = bodies["/_index_template/k8s-logs-apps"]
    assert logs["template"] == {
        "settings": {
            "index.lifecycle.name": "k8s-logs-7d",
            "index.lifecycle.parse_origination_date": True,
        }
    }
    assert logs["composed_of"] == ["k8s-logs-settings", "k8s-logs-mappings"]
    dead = bodies["/_index_template/k8s-logs-deadletter"]["template"]["settings"]
    assert dead["index.lifecycle.name"] == "k8s-logs-30d"
    unmatched = bodies["/_index_template/k8s-logs-unmatched"]["template"]["settings"]
    assert unmatched["index.lifecycle.name"] == "k8s-logs-7d"
    mappings = bodies["/_component_template/k8s-logs-mappings"]["template"]["mappings"]
    assert mappings["properties"]["json"] == {"type": "flattened", "ignore_above": 8191}
    assert mappings["properties"]["error"]["properties"]["stack_trace"]["type"] == "wildcard"
    assert all(
        phase["actions"].keys() <= {"set_priority", "delete"}
        for phase in POLICY_7D["policy"]["phases"].values()
    )  # nothing that blocks writes


@pytest.mark.parametrize("product", ["elasticsearch"])
def test_request_contract_on_elasticsearch_a_namespace_template_names_its_ilm_policy(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = ilm_endpoints()
    settings = make_settings(es_url, mode="auto", namespace_policies={"payments": "k8s-logs-30d"})
    run_setup(client, settings)
    es_proxy.requests.clear()
    IndexPreparer(client, settings).ensure("k8s-logs-payments_api-2026.11.26")
    puts = sent(es_proxy, "PUT")
    assert [p for _, p, _ in puts] == [
        "/_index_template/k8s-logs-ns-payments?create=true",
        "/k8s-logs-payments_api-2026.11.26",
    ]
    body = puts[0][2]
    assert body["index_patterns"] == ["k8s-logs-payments_*"]
    assert body["priority"] == 520
    assert body["composed_of"] == ["k8s-logs-settings", "k8s-logs-mappings"]
    assert body["template"] == {
        "settings": {
            "index.lifecycle.name": "k8s-logs-30d",
            "index.lifecycle.parse_origination_date": True,
        }
    }


@pytest.mark.parametrize("product", ["opensearch"])
def test_request_contract_on_opensearch_setup_sends_policies_translated_to_ism_with_ism_templates(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    es_proxy.fault = ism_endpoints()
    settings = make_settings(es_url, mode="auto", namespace_policies={"pay*": "k8s-logs-30d"})
    report = run_setup(client, settings)
    assert report.cluster.lifecycle == "ism"
    puts = {p: b for _, p, b in sent(es_proxy, "PUT")}
    assert puts["/_plugins/_ism/policies/k8s-logs-7d"] == {
        "policy": {
            "description": "log-indexer: ilm/k8s-logs-7d.json version 1, translated to ISM",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"index_priority": {"priority": 100}}],
                    "transitions": [{"state_name": "warm", "conditions": {"min_index_age": "2d"}}],
                },
                {
                    "name": "warm",
                    "actions": [{"index_priority": {"priority": 50}}],
                    "transitions": [
                        {"state_name": "delete", "conditions": {"min_index_age": "7d"}}
                    ],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [
                {"index_patterns": ["k8s-logs-unmatched-*"], "priority": 530},
                {"index_patterns": ["k8s-logs-*_*"], "priority": 510},
            ],
        }
    }
    thirty = puts["/_plugins/_ism/policies/k8s-logs-30d"]["policy"]
    assert thirty["ism_template"] == [
        {"index_patterns": ["k8s-logs-pay*_*"], "priority": 699},
        {"index_patterns": ["k8s-logs-deadletter-*"], "priority": 530},
    ]
    for path, body in puts.items():
        if path.startswith("/_index_template/"):
            assert "lifecycle" not in json.dumps(body.get("template", {})), path
    properties = puts["/_component_template/k8s-logs-mappings"]["template"]["mappings"][
        "properties"
    ]
    assert properties["json"] == {"type": "flat_object"}
    assert properties["message"] == {"type": "match_only_text"}  # OpenSearch 2.12+


@pytest.mark.parametrize("product", ["opensearch"])
def test_request_contract_an_existing_ism_policy_is_put_with_its_sequence_number(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    old = {
        "_id": "k8s-logs-7d",
        "_seq_no": 12,
        "_primary_term": 3,
        "policy": {
            "description": "log-indexer: ilm/k8s-logs-7d.json version 0, translated to ISM",
            "default_state": "hot",
            "states": [],
        },
    }

    es_proxy.fault = ism_endpoints({"k8s-logs-7d": json.dumps(old).encode()})
    run_setup(client, make_settings(es_url, mode="ism"))
    paths = [p for _, p, _ in sent(es_proxy, "PUT")]
    assert "/_plugins/_ism/policies/k8s-logs-7d?if_seq_no=12&if_primary_term=3" in paths
    assert "/_plugins/_ism/policies/k8s-logs-30d" in paths
