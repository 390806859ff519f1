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
            assert rule["annotations"]["runbook_url"] == f"docs/operations.md#{alert.lower()}"
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


def test_the_cpu_figure_is_given_as_the_design_target_until_benchmarks_exist() -> None:
    text = OPERATIONS.read_text()
    assert "6.5 µs" in text
    assert "0.07 core per 10 000 events/s" in text
    assert "docs/benchmarks.md" in text
