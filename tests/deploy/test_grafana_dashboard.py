"""The Grafana dashboard (deploy/components/monitoring/grafana-dashboard.json) shows only metrics
the code defines, covers what an operator looks at first, and ships with the monitoring
component as the ConfigMap Grafana's sidecar loads."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import prometheus_client
from deploy_checks import find
from test_node_monitoring import PROMETHEUS, agent_metric_names, metric_names_in, series_names

Docs = dict[str, list[dict[str, Any]]]
DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy/components/monitoring/grafana-dashboard.json"
)
# Every module of the indexer that defines metrics in the default registry.
INDEXER_METRIC_MODULES = (
    "indexer.metrics",
    "indexer.admin.metrics",
    "indexer.batch",
    "indexer.pipeline",
)


def indexer_metric_names() -> set[str]:
    """Every series name the indexer's registry exposes (labelled ones included, unobserved)."""
    for module in INDEXER_METRIC_MODULES:
        importlib.import_module(module)
    families = prometheus_client.REGISTRY.collect()
    return series_names(family for family in families if family.name.startswith("indexer_"))


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    found = [
        (f"panel {panel['title']!r}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = query.removeprefix("label_values(").rsplit(",", 1)[0]
            found.append((f"variable {variable['name']!r}", inner))
    return found


def test_every_expression_names_only_metrics_the_code_defines() -> None:
    known = indexer_metric_names() | agent_metric_names() | PROMETHEUS
    assert "indexer_core_declined_total" in known  # the reader sees the indexer's registry
    used: set[str] = set()
    for where, expr in _expressions(_dashboard()):
        names = metric_names_in(expr)
        assert names, where
        assert names <= known, (where, names - known)
        used |= names
    assert {
        "indexer_events_consumed_total",
        "indexer_events_indexed_total",
        "indexer_consumer_lag",
        "indexer_bulk_duration_seconds_bucket",
        "indexer_index_parked_documents",
        "indexer_events_deadlettered_total",
        "indexer_core_declined_total",
        "indexer_agent_inputs",
    } <= used


def test_every_panel_uses_the_datasource_variable_and_ids_are_unique() -> None:
    dashboard = _dashboard()
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert '"$namespace"' in target["expr"], (panel["title"], target["expr"])
    breakdowns = {
        "indexer_core_declined_total": "reason",
        "indexer_events_deadlettered_total": "reason",
    }
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    for metric, label in breakdowns.items():
        assert any(metric in e and f"by ({label})" in e for e in exprs), metric


def test_the_monitoring_component_ships_the_dashboard_as_a_sidecar_configmap(
    rendered: Docs,
) -> None:
    (configmap,) = find(rendered["production"], "ConfigMap", "log-indexer-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "logging"
    assert json.loads(configmap["data"]["grafana-dashboard.json"]) == _dashboard()
