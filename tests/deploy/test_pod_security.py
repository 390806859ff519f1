"""Issue 15: the namespaces carry the Pod Security level their pods need, and no laxer one.

The level a pod needs is computed here from the Pod Security Standards' baseline rules that our
pods can touch (hostPath volumes, added capabilities, privileged, host namespaces, host ports); the
restricted level is not claimed for any namespace (the node side and s6 apps run as root).
"""

from __future__ import annotations

from typing import Any

import pytest
from deploy_checks import DEPLOY, find, pod_spec_of, render

Docs = dict[str, list[dict[str, Any]]]
PSA = "pod-security.kubernetes.io/"
# Pod Security Standards, baseline "Capabilities": what a container may add.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}  # fmt: skip


def baseline_violations(pod: dict[str, Any]) -> list[str]:
    """Why this pod spec is not admitted at `baseline` (empty: it is)."""
    found = [f"hostPath volume {v['name']}" for v in pod.get("volumes", []) if "hostPath" in v]
    found += [f"host namespace {k}" for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        context = container.get("securityContext") or {}
        added = set((context.get("capabilities") or {}).get("add", []))
        found += [f"{container['name']}: capability {c}" for c in added - BASELINE_CAPABILITIES]
        if context.get("privileged"):
            found.append(f"{container['name']}: privileged")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{container['name']}: hostPort")
    return found


def needed_levels(docs: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """namespace -> {workload: baseline violations} for every workload in `docs`."""
    result: dict[str, dict[str, list[str]]] = {}
    for doc in docs:
        pod = pod_spec_of(doc)
        if pod is not None:
            namespace = doc["metadata"].get("namespace", "default")
            who = f"{doc['kind']}/{doc['metadata']['name']}"
            result.setdefault(namespace, {})[who] = baseline_violations(pod)
    return result


def sets() -> dict[str, list[dict[str, Any]]]:
    return {"sample": render(DEPLOY / "app-base" / "sample")}


@pytest.fixture(scope="module")
def all_docs(rendered: Docs) -> Docs:
    return {**rendered, **sets()}


def test_the_rule_sees_what_the_node_daemonset_and_the_app_pods_need(all_docs: Docs) -> None:
    daemonset = find(all_docs["production"], "DaemonSet")[0]
    violations = baseline_violations(daemonset["spec"]["template"]["spec"])
    assert "filebeat: capability DAC_READ_SEARCH" in violations
    assert any(v.startswith("hostPath volume") for v in violations)
    deployment = find(all_docs["production"], "Deployment", "log-indexer")[0]
    assert baseline_violations(deployment["spec"]["template"]["spec"]) == []
    ticker = find(all_docs["sample"], "Deployment", "ticker")[0]
    assert baseline_violations(ticker["spec"]["template"]["spec"]) == ["hostPath volume app-logs"]


@pytest.mark.parametrize("name", ["dev", "production", "sample"])
def test_each_namespace_enforces_exactly_the_level_its_pods_need(all_docs: Docs, name: str) -> None:
    docs = all_docs[name]
    namespaces = {doc["metadata"]["name"]: doc for doc in find(docs, "Namespace")}
    needs = needed_levels(docs)
    assert needs, "no workloads"
    assert set(needs) <= set(namespaces), "every workload's namespace is declared here"
    for namespace, workloads in needs.items():
        labels = namespaces[namespace]["metadata"].get("labels", {})
        level = "privileged" if any(workloads.values()) else "baseline"
        assert labels.get(PSA + "enforce") == level, (namespace, workloads)
        assert labels.get(PSA + "enforce-version") == "v1.30"
        # audit reports, against baseline, which pods need more
        assert labels.get(PSA + "audit") == "baseline"
