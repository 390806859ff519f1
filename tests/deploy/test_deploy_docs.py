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


def _sizing_figures() -> tuple[int, float]:
    """docs/benchmarks.md's sizing line: (events/s, CPU µs per event)."""
    text = (REPO / "docs" / "benchmarks.md").read_text()
    line = re.search(r"\*\*indexer x1: ([\d,]+) events/s, ([\d.]+) µs CPU per event\*\*", text)
    assert line, "docs/benchmarks.md has no sizing line"
    return int(line.group(1).replace(",", "")), float(line.group(2))


_X1_ROW = re.compile(r"^\| indexer x1 \| ([\d,]+) \([^|]*\| ([\d.]+) \(", re.MULTILINE)
"""A benchmark table's `indexer x1` row: its events/s and CPU µs per event."""


def test_the_sizing_line_is_the_newest_measured_indexer_x1_row() -> None:
    text = (REPO / "docs" / "benchmarks.md").read_text()
    rate, micros = _sizing_figures()
    rows = _X1_ROW.findall(text)
    assert (f"{rate:,}", micros) in [(r, float(m)) for r, m in rows]  # 7.10 is 7.1
    # The row sits in the newest dated section that measures the indexer end to end (on its
    # default configuration; sections about one stage or the native core measure other things).
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    dated = [(re.search(r"\d{4}-\d{2}-\d{2}", s.splitlines()[0]), s) for s in sections]
    measured = [
        (m.group(0), s)
        for m, s in dated
        if m and re.search(r"^\| indexer x1 \| [\d,]+ \(", s, re.MULTILINE)
    ]
    newest = max(measured)[1]
    row = _X1_ROW.search(newest)
    assert row and (row.group(1), float(row.group(2))) == (f"{rate:,}", micros)


def test_the_cpu_sizing_quotes_the_benchmarks_sizing_figures() -> None:
    text = " ".join(OPERATIONS.read_text().split())  # line breaks fall anywhere
    rate, micros = _sizing_figures()
    assert f"**{micros:.1f} µs of CPU per event**" in text
    assert f"**about {micros * 10_000 / 1e6:.2f} core per 10 000 events/s**" in text
    assert f"**{round(rate, -4):,.0f} events/s**".replace(",", " ") in text
    assert f"about {150_000 * micros / 1e6:.1f} cores of indexer CPU" in text
    assert "docs/benchmarks.md" in text


def test_the_mapping_conflict_procedure_catches_both_products_names() -> None:
    replay = (REPO / "docs" / "replay.md").read_text()
    procedure = replay.split("### After a mapping conflict", 1)[1].split("\n## ", 1)[0]
    assert "--error-type mapper_parsing_exception" in procedure
    assert "document_parsing_exception --dry-run" in procedure
    salvage = (REPO / "indexer" / "salvage.py").read_text()
    assert '"mapper_parsing_exception"' in salvage and '"document_parsing_exception"' in salvage


def test_no_document_links_outside_the_repository() -> None:
    for path in [REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")]:
        assert "../shared" not in path.read_text(), path.name


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_the_symptom_table_comes_first_and_every_runbook_it_links_exists() -> None:
    text = OPERATIONS.read_text()
    assert headings(text)[1] == "Symptom → runbook"
    table = text.split("## Symptom → runbook", 1)[1].split("\n## ", 1)[0]
    anchors = {_anchor(h) for h in headings(text)}
    links = re.findall(r"\]\(#([^)]+)\)", table)
    assert len(links) >= 10
    assert set(links) <= anchors, set(links) - anchors
    for runbook in (
        "Kafka unreachable or refusing authentication",
        "Setup or lifecycle failing",
        "A pod's lines never show up",
    ):
        section = text.split(f"### {runbook}\n", 1)[1].split("\n### ", 1)[0]
        assert "**Means:**" in section and "**Do:**" in section, runbook


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


def test_the_application_guide_names_data_views_that_kibana_setup_creates() -> None:
    import json

    text = " ".join((REPO / "docs" / "application-logging.md").read_text().split())
    views = [
        json.loads(path.read_text()) for path in (REPO / "kibana" / "data_views").glob("*.json")
    ]
    named = re.findall(r"data view `([^`]+)` \(pattern `([^`]+)`", text)
    named += re.findall(r"or `([^`]+)`, pattern `([^`]+)`", text)
    assert len(named) == 2
    made = set()
    for view in views:
        spec = view.get("data_view", view)
        made.add(
            (
                spec["name"].format(prefix="k8s-logs", namespace="<namespace>"),
                spec["title"].format(prefix="k8s-logs", namespace="<namespace>"),
            )
        )
    assert set(named) <= made, set(named) - made
