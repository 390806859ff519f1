"""Setup against the real ES-API server on both test beds (a default Elasticsearch with its
built-in templates, and OpenSearch): templates applied and used, ownership, the pre-flight,
idempotence, version rules, dry run, diff, label and dead-letter mappings that never reject."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.admin.errors import SetupError
from indexer.admin.setup import run_setup
from indexer.cli import main
from indexer.cluster import ClusterError, SearchClient
from indexer.dead_letter_shape import deadletter_document
from indexer.elastic_builtins import REGISTRY_VERSION
from indexer.embedded import CompatProxy, Product

from .conftest import make_settings, sent

# A same-version copy of our base template that differs (no components).
OURS = {
    "index_patterns": ["k8s-logs-*_*"],
    "priority": 510,
    "version": 1,
    "composed_of": [],
    "_meta": {"managed_by": "log-indexer"},
}


def _template(client: SearchClient, name: str) -> dict[str, Any]:
    body: dict[str, Any] = client.request("GET", f"/_index_template/{name}")["index_templates"][0]
    return body["index_template"]


def test_setup_puts_every_template_and_a_new_daily_index_uses_their_mappings(
    client: SearchClient, es_url: str
) -> None:
    report = run_setup(client, make_settings(es_url))
    assert {(o.kind, o.name, o.action) for o in report.outcomes} == {
        ("component_template", "k8s-logs-settings", "create"),
        ("component_template", "k8s-logs-mappings", "create"),
        ("index_template", "k8s-logs-apps", "create"),
        ("index_template", "k8s-logs-deadletter", "create"),
        ("index_template", "k8s-logs-unmatched", "create"),
    }
    client.request("PUT", "/k8s-logs-shop_cart-2026.11.26")
    mapping = client.request("GET", "/k8s-logs-shop_cart-2026.11.26/_mapping")
    properties = mapping["k8s-logs-shop_cart-2026.11.26"]["mappings"]["properties"]
    assert properties["kubernetes"]["properties"]["labels"] == {"type": "object"}
    assert properties["service"]["properties"]["name"] == {"type": "keyword", "ignore_above": 1024}
    assert properties["message"] == {"type": "match_only_text"}
    # osmem stores Elasticsearch's `flattened` as its `flat_object` on both beds
    assert properties["json"]["type"] == "flat_object"
    assert mapping["k8s-logs-shop_cart-2026.11.26"]["mappings"]["date_detection"] is False
    settings = client.request("GET", "/k8s-logs-shop_cart-2026.11.26/_settings")
    index = settings["k8s-logs-shop_cart-2026.11.26"]["settings"]["index"]
    assert index["mapping"]["total_fields"]["limit"] == "2000"
    assert "lifecycle" not in index  # OpenSearch refuses index.lifecycle.*


def test_kubernetes_labels_are_keywords_field_by_field_as_filebeat_sends_them(
    client: SearchClient, es_url: str
) -> None:
    # filebeat's add_kubernetes_metadata replaces dots in label keys by default
    # (elastic/beats libbeat/common/kubernetes/metadata/config.go: labels.dedot true), so
    # `app.kubernetes.io/name` arrives as `app_kubernetes_io/name` next to `app`.
    first = {"kubernetes": {"labels": {"app_kubernetes_io/name": "cart"}}, "message": "a"}
    second = {"kubernetes": {"labels": {"app": "cart", "tier": 3}}, "message": "b"}
    run_setup(client, make_settings(es_url))
    index = "k8s-logs-shop_cart-2026.11.26"
    client.request("POST", f"/{index}/_doc", first)
    client.request("POST", f"/{index}/_doc", second, {"refresh": "true"})
    found = client.request(
        "POST", f"/{index}/_count", {"query": {"term": {"kubernetes.labels.app": "cart"}}}
    )
    assert found["count"] == 1
    mapping = client.request("GET", f"/{index}/_mapping")[index]["mappings"]["properties"]
    labels = mapping["kubernetes"]["properties"]["labels"]["properties"]
    assert labels["app"] == {"type": "keyword", "ignore_above": 1024}
    assert labels["app_kubernetes_io/name"] == {"type": "keyword", "ignore_above": 1024}
    # With dedot turned off the pair collides (an object and a value at `app`), as in
    # filebeat's own template: the second document is refused, and the indexer dead-letters it.
    other = "k8s-logs-shop_web-2026.11.26"
    client.request(
        "POST", f"/{other}/_doc", {"kubernetes": {"labels": {"app.kubernetes.io/name": "x"}}}
    )
    with pytest.raises(ClusterError, match="mapper_parsing_exception"):
        client.request("POST", f"/{other}/_doc", {"kubernetes": {"labels": {"app": "web"}}})


@pytest.mark.parametrize(
    "document",
    [
        {"@timestamp": "not a date", "error": "a string where an object was"},
        {"@timestamp": {"an": "object"}, "kafka": {"offset": "eleven"}, "event": {"x": [1, {}]}},
        {"log": "not an object", "message": {"nested": ["a", 1]}, "kubernetes": 5},
    ],
)
def test_the_unmatched_index_accepts_documents_of_any_shape(
    client: SearchClient, es_url: str, document: dict[str, Any]
) -> None:
    run_setup(client, make_settings(es_url))
    for _ in range(2):  # the second copy meets whatever the first one mapped
        answer = client.request("POST", "/k8s-logs-unmatched-2026.11.26/_doc", document)
        assert answer["result"] == "created"


def test_the_dead_letter_index_accepts_every_dead_letter_the_indexer_writes(
    client: SearchClient, es_url: str
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
            (
                b'{"message": "x"}',
                "mapper_parsing_exception",
                "failed to parse",
                "k8s-logs-a_b-2026",
            ),
            (b"\xff\xfe not utf-8", "decode_error", "invalid start byte", None),
            (b"", "decode_error", "x" * 5000, None),
            (b'{"@timestamp": {"a": 1}}' * 500, "illegal_argument_exception", "", "k8s-logs-x"),
        ]
    ]
    for letter in letters:
        answer = client.request("POST", "/k8s-logs-deadletter-2026.11.26/_doc", letter)
        assert answer["result"] == "created"


def test_a_second_setup_changes_nothing_and_sends_no_put(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    es_proxy.requests.clear()
    report = run_setup(client, settings)
    assert {o.action for o in report.outcomes} == {"unchanged"}
    assert sent(es_proxy, "PUT") == []


def test_a_higher_version_on_the_cluster_is_never_overwritten(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    newer = {**OURS, "version": 7}
    client.request("PUT", "/_index_template/k8s-logs-apps", newer)
    es_proxy.requests.clear()
    report = run_setup(client, make_settings(es_url), overwrite=True)
    (outcome,) = [o for o in report.outcomes if o.name == "k8s-logs-apps"]
    assert outcome.action == "newer-on-cluster"
    assert ("PUT", "/_index_template/k8s-logs-apps") not in [
        (m, p) for m, p, _ in sent(es_proxy, "PUT")
    ]
    assert _template(client, "k8s-logs-apps")["version"] == 7


def test_a_same_version_copy_that_differs_is_a_conflict_replaced_only_with_overwrite(
    client: SearchClient, es_url: str
) -> None:
    settings = make_settings(es_url)
    run_setup(client, settings)
    client.request("PUT", "/_index_template/k8s-logs-apps", OURS)
    report = run_setup(client, settings)
    (conflict,) = report.conflicts
    assert conflict.name == "k8s-logs-apps"
    assert any("composed_of" in d for d in conflict.differences)
    assert _template(client, "k8s-logs-apps")["composed_of"] == []

    report = run_setup(client, settings, overwrite=True)
    assert [o.action for o in report.outcomes if o.name == "k8s-logs-apps"] == ["replace"]
    stored = _template(client, "k8s-logs-apps")
    assert stored["composed_of"] == ["k8s-logs-settings", "k8s-logs-mappings"]


def test_an_older_version_on_the_cluster_is_updated(client: SearchClient, es_url: str) -> None:
    client.request(
        "PUT",
        "/_component_template/k8s-logs-settings",
        {"template": {}, "version": 0, "_meta": {"managed_by": "log-indexer"}},
    )
    report = run_setup(client, make_settings(es_url))
    assert [o.action for o in report.outcomes if o.name == "k8s-logs-settings"] == ["update"]


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
    assert "PUT /_index_template/k8s-logs-apps\n{" in out
    assert "PUT /_component_template/k8s-logs-mappings\n{" in out
    assert sent(es_proxy, "PUT") == []


def test_diff_lists_what_differs_between_files_and_cluster(
    client: SearchClient,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    monkeypatch.setenv("INDEXER_LIFECYCLE__MODE", "sweeper")
    run_setup(client, make_settings(es_url))
    client.request(
        "PUT",
        "/_index_template/k8s-logs-unmatched",
        {
            "index_patterns": ["k8s-logs-unmatched-*"],
            "version": 2,
            "priority": 540,
            "_meta": {"managed_by": "log-indexer"},
        },
    )
    assert main(["templates", "diff", "--exit-code"]) == 1
    out = capsys.readouterr().out
    assert "index_template k8s-logs-unmatched: conflict (file v2, cluster v2)" in out
    assert "$.priority: file=530 cluster=540" in out
    assert "1 of 5 objects differ" in out


def test_setup_exits_1_and_names_the_object_when_the_cluster_refuses_it(
    client: SearchClient,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    monkeypatch.setenv("INDEXER_LIFECYCLE__MODE", "ilm")  # osmem has no ILM: refused
    assert main(["setup"]) == 1
    assert "refused reading ilm_policy" in capsys.readouterr().err


def test_on_a_default_elasticsearch_our_templates_win_and_the_built_ins_stay_theirs(
    client: SearchClient, es_url: str, product: Product
) -> None:
    report = run_setup(client, make_settings(es_url))
    assert len(report.checks) == 4
    assert all("-> k8s-logs-" in check and "(ours" in check for check in report.checks)
    assert all(check.endswith("the cluster's simulation agrees") for check in report.checks)
    names = {t["name"] for t in client.request("GET", "/_index_template")["index_templates"]}
    if product == "elasticsearch":
        # The registry's re-install ran after each of our puts; its objects are untouched.
        assert {"logs", "metrics", "synthetics", "logs-otel@template"} <= names
        assert _template(client, "logs")["version"] == REGISTRY_VERSION
        with pytest.raises(ClusterError, match="creates data streams only"):
            client.request("PUT", "/logs-shop_cart-2026.11.26")
    client.request("PUT", "/k8s-logs-shop_cart-2026.11.26")  # ours is a plain index


@pytest.mark.parametrize(
    ("name", "meta", "owner"),
    [
        ("k8s-logs-apps", {"managed": True}, "Elasticsearch (_meta.managed: true, a built-in)"),
        ("k8s-logs-mappings", {"managed_by": "fleet"}, "fleet"),
        ("k8s-logs-deadletter", None, "someone else (no _meta.managed_by)"),
    ],
)
def test_setup_refuses_an_object_of_our_name_that_someone_else_owns_and_sends_nothing(
    client: SearchClient,
    es_url: str,
    es_proxy: CompatProxy,
    name: str,
    meta: dict[str, Any] | None,
    owner: str,
) -> None:
    kind = "_component_template" if name.endswith("mappings") else "_index_template"
    body: dict[str, Any] = {"version": 99, "template": {}}
    if kind == "_index_template":
        body.update(index_patterns=[f"{name}-foreign-*"], priority=900)
    if meta is not None:
        body["_meta"] = meta
    client.request("PUT", f"/{kind}/{name}", body)
    es_proxy.requests.clear()
    with pytest.raises(SetupError) as caught:
        run_setup(client, make_settings(es_url))
    assert f"{name} exists on the cluster and belongs to {owner}" in str(caught.value)
    assert sent(es_proxy, "PUT") == []


def test_a_dry_run_shows_our_templates_winning_the_simulation(
    es_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    assert main(["setup", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for kind in ("preflight_probe", "preflight__shared", "deadletter", "unmatched"):
        assert f"preflight: k8s-logs-{kind}-" in out
    assert "-> k8s-logs-apps (ours, priority 510)" in out
    assert "simulation" not in out  # nothing is on the cluster yet to simulate

    assert main(["setup"]) == 0
    capsys.readouterr()
    assert main(["setup", "--dry-run"]) == 0  # now the cluster itself can answer
    out = capsys.readouterr().out
    assert out.count("; the cluster's simulation agrees") == 4


def test_a_dry_run_exits_1_naming_a_foreign_template_that_would_win(
    client: SearchClient,
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client.request(
        "PUT",
        "/_index_template/everything-k8s",
        {"index_patterns": ["k8s-*"], "priority": 1000, "_meta": {"managed_by": "platform-team"}},
    )
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{es_url}"]')
    assert main(["setup", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "would get template everything-k8s (priority 1000, owned by platform-team)" in err


def test_a_template_that_would_make_our_indices_data_streams_fails_the_preflight(
    client: SearchClient, es_url: str
) -> None:
    client.request(
        "PUT",
        "/_index_template/k8s-streams",
        {
            "index_patterns": ["k8s-logs-*-*"],
            "priority": 999,
            "data_stream": {},
            "_meta": {"managed_by": "log-indexer"},
        },
    )
    with pytest.raises(SetupError, match="creates data streams only"):
        run_setup(client, make_settings(es_url))
