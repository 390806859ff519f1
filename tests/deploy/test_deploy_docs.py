"""docs/operations.md keeps up with the manifests: a runbook per alert, the required topics."""

from __future__ import annotations

import re
from typing import Any

from deploy_checks import REPO, find

Docs = dict[str, list[dict[str, Any]]]
OPERATIONS = REPO / "docs" / "operations.md"


def headings(text: str) -> list[str]:
    return [m.group(2).strip() for m in re.finditer(r"^(#+)\s+(.*)$", text, re.MULTILINE)]


def test_every_alert_has_a_runbook_section_its_runbook_url_points_to(rendered: Docs) -> None:
    text = OPERATIONS.read_text()
    (rules,) = find(rendered["production"], "PrometheusRule")
    for group in rules["spec"]["groups"]:
        for rule in group["rules"]:
            alert = rule["alert"]
            assert alert in headings(text), f"no '### {alert}' runbook in docs/operations.md"
            assert rule["annotations"]["runbook_url"].endswith(
                f"/docs/operations.md#{alert.lower()}"
            )
            section = text.split(f"### {alert}\n", 1)[1].split("\n### ", 1)[0]
            assert "**Means:**" in section and "**Do:**" in section, alert


def test_the_operations_guide_covers_what_operators_need() -> None:
    found = headings(OPERATIONS.read_text())
    for topic in (
        "Install",
        "Secrets",
        "Sizing",
        "Scaling",
        "Elasticsearch privileges",
        "Kafka ACLs",
        "Upgrades",
        "Alert runbook",
    ):
        assert topic in found, topic


def test_the_cpu_sizing_quotes_the_measured_benchmark_figure() -> None:
    text = OPERATIONS.read_text()
    benchmarks = (REPO / "docs" / "benchmarks.md").read_text()
    measured = re.search(r"\*\*indexer x1\*\* \| \*\*[\d,]+ [^|]*\| \*\*([\d.]+) \(", benchmarks)
    assert measured, "docs/benchmarks.md has no indexer x1 row"
    micros = float(measured.group(1))
    assert f"{micros:.1f} µs of" in text
    assert f"{micros * 10_000 / 1e6:.2f} core per 10 000 events/s" in text
    assert "docs/benchmarks.md" in text


def test_the_application_guide_matches_the_component_and_the_base_image() -> None:
    text = (REPO / "docs" / "application-logging.md").read_text()
    component = (REPO / "deploy" / "components" / "app-logs" / "pod-logs.yaml").read_text()
    dockerfile = (REPO / "deploy" / "app-base" / "Dockerfile").read_text()
    assert "subPathExpr: $(POD_NAMESPACE)/$(APP_NAME)/$(POD_NAME)/log" in component
    assert "subPathExpr: $(POD_NAMESPACE)/$(APP_NAME)/$(POD_NAME)/log" in text
    version = re.search(r"ARG S6_OVERLAY_VERSION=(\S+)", dockerfile)
    assert version and f"s6-overlay** {version.group(1)}" in text
    for default in re.findall(r"(APP_LOG_\w+)=(\d+)", dockerfile):
        assert f"`{default[0]}`" in text, default
    assert "`kubectl logs <pod>` **no longer shows the app's output**" in text
    for field in ("service.name", "kubernetes.namespace", "kubernetes.pod.name"):
        assert field in text
        assert field.rsplit(".", 1)[0].split(".")[0] in (REPO / "indexer" / "route.py").read_text()
