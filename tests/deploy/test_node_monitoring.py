"""The node side is scraped and alerted on: the PodMonitor reaches the agent, filebeat's endpoint
stays on loopback where the agent reads it, and every node rule uses only metrics that exist."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import yaml
from deploy_checks import expand_dotted, filebeat_configs, find, pod_spec_of
from prometheus_client import Metric

from indexer.agent import filebeat_stats, metrics
from indexer.agent.settings import FilebeatSettings

Docs = dict[str, list[dict[str, Any]]]

# kube-state-metrics, docs/metrics/workload/daemonset-metrics.md (STABLE): labels daemonset,
# namespace. https://github.com/kubernetes/kube-state-metrics/blob/main/docs/metrics/workload/daemonset-metrics.md
KUBE_STATE_METRICS = {
    "kube_daemonset_status_current_number_scheduled",
    "kube_daemonset_status_desired_number_scheduled",
    "kube_daemonset_status_number_available",
    "kube_daemonset_status_number_misscheduled",
    "kube_daemonset_status_number_ready",
    "kube_daemonset_status_number_unavailable",
}
# Prometheus' own per-target series (https://prometheus.io/docs/concepts/jobs_instances/).
PROMETHEUS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset",
}  # fmt: skip


def series_names(families: Iterable[Metric]) -> set[str]:
    """The series names Prometheus scrapes for these metric families (a counter's `_total`, a
    histogram's `_bucket`, `_sum` and `_count`), labelled ones included, unobserved."""
    names: set[str] = set()
    for family in families:
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names |= {family.name + s for s in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


def agent_metric_names() -> set[str]:
    """Every series name the agent's registry exposes (labelled ones included, unobserved)."""
    return set(filebeat_stats.metric_names()) | series_names(metrics.REGISTRY.collect())


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    names = set()
    for found in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = found.group(1), found.group(2)
        if not call and name not in _KEYWORDS:
            names.add(name)
    return names


def node_rules(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (rules,) = find(docs, "PrometheusRule")
    groups = [g for g in rules["spec"]["groups"] if g["name"] == "log-node"]
    assert len(groups) == 1
    rules_found: list[dict[str, Any]] = groups[0]["rules"]
    return rules_found


def test_the_metric_name_reader_finds_selectors_and_skips_functions_labels_and_keywords() -> None:
    expr = (
        'sum by (namespace, pod) (rate(a_total{job="x",kind!="y"}[10m])) > 0 '
        'and on (pod) b / c_bytes{job="x"} > 0.85 or absent(up{job="x"}) '
        "unless predict_linear(d[6h], 4 * 3600) < 0"
    )
    assert metric_names_in(expr) == {"a_total", "b", "c_bytes", "up", "d"}


def test_every_node_rule_uses_only_metrics_the_agent_filebeat_or_kube_state_metrics_export(
    rendered: Docs,
) -> None:
    known = agent_metric_names() | KUBE_STATE_METRICS | PROMETHEUS
    used: set[str] = set()
    for rule in node_rules(rendered["production"]):
        names = metric_names_in(rule["expr"])
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], names - known)
        used |= names
    # Every alert the issue asks for is there, on the figures meant for it.
    assert {
        "indexer_agent_filebeat_output_events_acked_total",
        "indexer_agent_filebeat_pipeline_events_active",
        "indexer_agent_filebeat_unshipped_bytes",
        "indexer_agent_filebeat_oldest_unshipped_age_seconds",
        "indexer_agent_errors_total",
        "indexer_agent_rotation_due_slot_timestamp_seconds",
        "indexer_agent_logs_volume_used_bytes",
        "indexer_agent_logs_volume_size_bytes",
        "kube_daemonset_status_number_available",
    } <= used


def test_node_rules_select_the_podmonitor_job_and_the_daemonset(rendered: Docs) -> None:
    docs = rendered["production"]
    (daemonset,) = find(docs, "DaemonSet", "log-node")
    (monitor,) = find(docs, "PodMonitor", "log-node")
    labels = daemonset["spec"]["template"]["metadata"]["labels"]
    job = labels[monitor["spec"]["jobLabel"]]
    for rule in node_rules(docs):
        for selector in re.findall(r"\b(indexer_agent_\w+|up)\{([^}]*)\}", rule["expr"]):
            assert f'job="{job}"' in selector[1], (rule["alert"], selector)
        for selector in re.findall(r"\b(kube_daemonset_\w+)\{([^}]*)\}", rule["expr"]):
            assert f'daemonset="{daemonset["metadata"]["name"]}"' in selector[1], rule["alert"]


def test_the_podmonitor_scrapes_the_agents_metrics_port_in_the_daemonsets_namespace(
    rendered: Docs,
) -> None:
    docs = rendered["production"]
    (daemonset,) = find(docs, "DaemonSet", "log-node")
    (monitor,) = find(docs, "PodMonitor", "log-node")
    assert monitor["metadata"]["namespace"] == daemonset["metadata"]["namespace"] == "logging"
    assert "namespaceSelector" not in monitor["spec"]  # its own namespace
    pod_labels = daemonset["spec"]["template"]["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    pod = pod_spec_of(daemonset) or {}
    ports = {p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports") or []}
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert ports[endpoint["port"]] == 9181 and endpoint["path"] == "/metrics"


def test_filebeats_http_endpoint_is_on_loopback_where_the_agent_reads_it(rendered: Docs) -> None:
    default = urlsplit(FilebeatSettings().stats_url)
    for overlay, docs in rendered.items():
        for name, text in filebeat_configs(docs).items():
            http = expand_dotted(yaml.safe_load(text)).get("http") or {}
            assert http.get("enabled") is True, (overlay, name)
            assert http.get("host") == default.hostname == "127.0.0.1", (overlay, name)
            assert http.get("port") == default.port, (overlay, name)
