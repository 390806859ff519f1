"""Every rendered object of every overlay: its namespace, the standard labels, and what the
production install relies on (priorities, NetworkPolicy, PDB eviction, soft spreading, absolute
runbook links)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest
from deploy_checks import (
    REPO,
    find,
    namespace_and_label_problems,
    overlay_dirs,
    pod_spec_of,
)

OVERLAYS = [path.name for path in overlay_dirs()]
Docs = dict[str, list[dict[str, Any]]]
PROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_in_the_overlays_namespace_with_the_standard_labels(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    assert namespace_and_label_problems(docs) == []
    # The components' objects (KEDA, prometheus-operator) included: they were namespace-less.
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] == "ScaledObject"} <= {
        d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"
    }


def test_the_namespace_and_label_check_catches_a_missing_namespace_and_label(
    rendered: Docs,
) -> None:
    docs = copy.deepcopy(rendered["production"])
    (monitor,) = find(docs, "ServiceMonitor")
    del monitor["metadata"]["namespace"]
    del monitor["metadata"]["labels"]["app.kubernetes.io/managed-by"]
    (priority, *_) = find(docs, "PriorityClass")
    priority["metadata"]["namespace"] = "logging"
    (deployment,) = find(docs, "Deployment")
    deployment["metadata"]["labels"]["app.kubernetes.io/version"] = "9.9.9"
    assert sorted(namespace_and_label_problems(docs)) == [
        "PriorityClass/log-indexer: cluster-scoped but has namespace 'logging'",
        "ServiceMonitor/log-indexer: label app.kubernetes.io/managed-by missing",
        "ServiceMonitor/log-indexer: namespace None, expected 'logging'",
        "app.kubernetes.io/version differs between objects: ['0.1.0', '9.9.9']",
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_version_label_is_the_projects_version(rendered: Docs, overlay: str) -> None:
    (deployment,) = find(rendered[overlay], "Deployment", "log-indexer")
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == PROJECT_VERSION


def test_production_deploys_the_image_of_the_version_it_labels(rendered: Docs) -> None:
    (deployment,) = find(rendered["production"], "Deployment", "log-indexer")
    (indexer,) = deployment["spec"]["template"]["spec"]["containers"]
    assert indexer["image"].rsplit(":", 1)[1] == PROJECT_VERSION


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_daemonset_and_the_deployment_run_at_a_shipped_priority(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    classes = {d["metadata"]["name"]: d["value"] for d in find(docs, "PriorityClass")}
    (daemonset,) = find(docs, "DaemonSet")
    (deployment,) = find(docs, "Deployment", "log-indexer")
    node = (pod_spec_of(daemonset) or {})["priorityClassName"]
    indexer = (pod_spec_of(deployment) or {})["priorityClassName"]
    assert classes[node] > classes[indexer] > 0
    assert max(classes.values()) < 1_000_000_000  # user classes stay below system ones
    assert not any(d.get("globalDefault") for d in find(docs, "PriorityClass"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_monitoring_namespace_reaches_the_metrics_ports(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    policies = find(docs, "NetworkPolicy")
    for workload, port in (("Deployment", "metrics"), ("DaemonSet", "agent-metrics")):
        (target,) = find(docs, workload)
        labels = target["spec"]["template"]["metadata"]["labels"]
        selecting = [
            p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, workload
        (policy,) = selecting
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        (rule,) = policy["spec"]["ingress"]
        assert [p["port"] for p in rule["ports"]] == [port]
        assert rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
        ports = {
            p["name"]
            for c in target["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        assert port in ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_unready_indexers_never_block_a_node_drain(rendered: Docs, overlay: str) -> None:
    (pdb,) = find(rendered[overlay], "PodDisruptionBudget")
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_indexers_spread_by_preference_so_replicas_never_need_one_node_each(
    rendered: Docs, overlay: str
) -> None:
    (deployment,) = find(rendered[overlay], "Deployment", "log-indexer")
    spec = pod_spec_of(deployment) or {}
    anti = spec["affinity"]["podAntiAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in anti
    assert anti["preferredDuringSchedulingIgnoredDuringExecution"]
    assert all(
        c["whenUnsatisfiable"] == "ScheduleAnyway" for c in spec["topologySpreadConstraints"]
    )


def test_every_runbook_url_is_absolute_and_built_from_the_one_base_url_setting(
    rendered: Docs,
) -> None:
    kustomization = (REPO / "deploy" / "overlays" / "production" / "kustomization.yaml").read_text()
    (base,) = [
        line.split("base-url=", 1)[1].strip()
        for line in kustomization.splitlines()
        if "base-url=" in line
    ]
    assert base.startswith("https://") and base.endswith("/docs/operations.md")
    (rules,) = find(rendered["production"], "PrometheusRule")
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"]["runbook_url"]
            assert url == f"{base}#{rule['alert'].lower()}"
    # The setting itself is a local-config object: not part of what is applied.
    assert not find(rendered["production"], "ConfigMap", "runbook-links")


def test_the_install_steps_create_the_namespace_before_the_secrets_that_go_into_it() -> None:
    text = (REPO / "docs" / "operations.md").read_text()
    install = text.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    steps = [line for line in install.splitlines() if line[:2] in {"0.", "1.", "2.", "3.", "4."}]
    assert "namespace first" in steps[1].lower()
    assert "Secrets" in steps[2]
    assert "setup Job" in steps[3]
    assert "runbook-links" in install and "base-url" in install
