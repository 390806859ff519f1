"""The real overlays under deploy/ render, validate, and agree with the code they deploy."""

from __future__ import annotations

import re
from typing import Any

import pytest
from deploy_checks import (
    KUBERNETES_VERSION,
    Container,
    containers,
    crd_problems,
    environment,
    filebeat_configs,
    filebeat_problems,
    find,
    is_crd,
    kubectl,
    name_of,
    overlay_dirs,
    pod_spec_of,
    schema_problems,
    settings_of,
    settings_problems,
)

OVERLAYS = [path.name for path in overlay_dirs()]
Docs = dict[str, list[dict[str, Any]]]


def indexer_containers(docs: list[dict[str, Any]], command: str = "run") -> list[Container]:
    return [c for c in containers(docs) if c.runs_project_image and c.command == command]


def test_kubectl_is_installed_because_rendering_needs_it() -> None:
    assert kubectl()


def test_there_is_a_dev_and_a_production_overlay() -> None:
    assert {"dev", "production"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_the_indexer_the_setup_job_and_the_node_daemonset(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    assert len(indexer_containers(docs, "run")) == 1
    assert len(indexer_containers(docs, "setup")) == 1
    assert len(indexer_containers(docs, "agent")) == 1
    assert [d["kind"] for d in docs if d["kind"] == "DaemonSet"] == ["DaemonSet"]
    assert find(docs, "Job")[0]["spec"]["template"]["spec"]["restartPolicy"] in {
        "OnFailure",
        "Never",
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly_against_the_stated_kubernetes_schemas(
    rendered: Docs, overlay: str
) -> None:
    assert KUBERNETES_VERSION == "1.30"
    assert schema_problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_are_checked_structurally_as_kubernetes_validate_cannot(
    rendered: Docs, overlay: str
) -> None:
    crds = [d for d in rendered[overlay] if is_crd(d)]
    assert [p for d in crds for p in crd_problems(d)] == []


def test_production_has_monitoring_and_autoscaling_and_dev_leaves_the_crds_out(
    rendered: Docs,
) -> None:
    kinds = {d["kind"] for d in rendered["production"]}
    assert {"ServiceMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"} <= kinds
    assert not [d for d in rendered["dev"] if is_crd(d)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_indexer_variable_is_a_real_setting_and_every_required_one_is_set(
    rendered: Docs, overlay: str
) -> None:
    assert settings_problems(rendered[overlay]) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_filebeat_reads_the_agents_inputs_and_keeps_each_file_in_order_on_kafka(
    rendered: Docs, overlay: str
) -> None:
    configs = filebeat_configs(rendered[overlay])
    assert len(configs) == 1
    for name, text in configs.items():
        assert filebeat_problems(text, rendered[overlay], name) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_indexer_outlives_its_drain_timeout_and_is_probed_on_its_metrics_port(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    (indexer,) = indexer_containers(docs)
    settings = settings_of(indexer, docs)
    grace = indexer.pod_spec["terminationGracePeriodSeconds"]
    assert grace >= settings.shutdown.grace_needed_seconds
    ports = {p["name"]: p["containerPort"] for p in indexer.spec["ports"]}
    assert ports["metrics"] == settings.metrics.port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert indexer.spec[probe]["httpGet"]["path"] == path
        assert ports[indexer.spec[probe]["httpGet"]["port"]] == settings.metrics.port


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_pod_name_is_the_static_group_membership_id(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    (indexer,) = indexer_containers(docs)
    env = environment(indexer, docs)
    assert env.sources["INDEXER_KAFKA__INSTANCE_ID"] == "field:metadata.name"
    assert indexer.workload["kind"] == "Deployment"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_never_exceed_the_topics_partitions(rendered: Docs, overlay: str) -> None:
    docs = rendered[overlay]
    (deployment,) = find(docs, "Deployment", "log-indexer")
    partitions = int(deployment["metadata"]["annotations"]["log-pipeline.io/kafka-partitions"])
    assert 1 <= deployment["spec"]["replicas"] <= partitions
    for scaled in find(docs, "ScaledObject"):
        assert scaled["spec"]["scaleTargetRef"]["name"] == "log-indexer"
        assert scaled["spec"]["maxReplicaCount"] <= partitions


def test_keda_scales_on_the_indexers_own_group_topic_and_brokers(rendered: Docs) -> None:
    docs = rendered["production"]
    (indexer,) = indexer_containers(docs)
    settings = settings_of(indexer, docs)
    (scaled,) = find(docs, "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert meta["consumerGroup"] == settings.kafka.group_id
    assert meta["topic"] in (settings.kafka.topics or [])
    assert meta["bootstrapServers"] == settings.kafka.bootstrap_servers
    auth = trigger["authenticationRef"]["name"]
    assert find(docs, "TriggerAuthentication", auth)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_indexers_spread_over_nodes_and_a_pdb_limits_voluntary_disruption(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    (deployment,) = find(docs, "Deployment", "log-indexer")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t["podAffinityTerm"]
        for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
    ]
    assert any(t["topologyKey"] == "kubernetes.io/hostname" for t in terms)
    (pdb,) = find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_resource_requests_and_memory_limits(
    rendered: Docs, overlay: str
) -> None:
    for container in containers(rendered[overlay]):
        resources = container.spec.get("resources") or {}
        assert {"cpu", "memory"} <= set(resources.get("requests", {})), container.name
        assert "memory" in resources.get("limits", {}), container.name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_metrics_service_and_servicemonitor_select_the_indexers_metrics_port(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    (deployment,) = find(docs, "Deployment", "log-indexer")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (service,) = find(docs, "Service", "log-indexer")
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["metrics"]
    for monitor in find(docs, "ServiceMonitor"):
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_credentials_come_from_secrets_and_ca_paths_are_mounted_secret_files(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    for container in indexer_containers(docs, "run") + indexer_containers(docs, "setup"):
        settings = settings_of(container, docs)
        env = environment(container, docs)
        assert env.sources["INDEXER_ELASTICSEARCH__API_KEY"] == "secret"
        ca = settings.elasticsearch.ca_certs
        if ca is None:
            continue
        volumes = {v["name"]: v for v in container.pod_spec["volumes"]}
        mounts = [m for m in container.spec["volumeMounts"] if str(ca.parent) == m["mountPath"]]
        assert len(mounts) == 1, f"{container.name}: {ca} is not on a mounted volume"
        secret = volumes[mounts[0]["name"]]["secret"]
        assert ca.name in [item["path"] for item in secret["items"]]


def test_the_librdkafka_options_carry_the_sasl_credentials_from_the_secret(
    rendered: Docs,
) -> None:
    docs = rendered["production"]
    (indexer,) = indexer_containers(docs)
    options = settings_of(indexer, docs).kafka.options
    assert options["security.protocol"] == "SASL_SSL"
    assert options["sasl.username"] == "secret-username"
    assert options["sasl.password"] == "secret-password"


def test_alert_rules_use_the_services_job_label_and_real_metric_names(rendered: Docs) -> None:
    from prometheus_client import Counter, Gauge, Histogram

    from indexer import metrics

    known = {"up"}
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            known |= {value._name + "_total"}
        elif isinstance(value, Histogram):
            known |= {value._name + suffix for suffix in ("_bucket", "_sum", "_count")}
        elif isinstance(value, Gauge):
            known.add(value._name)
    docs = rendered["production"]
    (service,) = find(docs, "Service", "log-indexer")
    (rules,) = find(docs, "PrometheusRule")
    for group in rules["spec"]["groups"]:
        if group["name"] == "log-node":
            continue  # the node side's rules: tests/deploy/test_node_monitoring.py
        for rule in group["rules"]:
            expr = rule["expr"]
            jobs = set(re.findall(r'job="([^"]+)"', expr))
            assert jobs <= {service["metadata"]["name"]}, rule["alert"]
            used = set(re.findall(r"\b(indexer_[a-z_]+)", expr))
            assert used <= known, f"{rule['alert']}: unknown metrics {used - known}"


def test_the_alert_rules_cover_lag_dead_letters_stalls_down_and_readiness(
    rendered: Docs,
) -> None:
    (rules,) = find(rendered["production"], "PrometheusRule")
    alerts = {r["alert"]: r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]}
    assert "indexer_consumer_lag" in alerts["IndexerConsumerLagGrowing"]
    assert "indexer_events_deadlettered_total" in alerts["IndexerDeadLetterRate"]
    stalled = alerts["IndexerWritesStalled"]
    assert "indexer_bulk_last_success_timestamp_seconds" in stalled
    assert "indexer_consumer_lag" in stalled
    assert "up{" in alerts["IndexerDown"]
    assert "replicas_unavailable" in alerts["IndexerNotReady"]
    assert (
        'indexer_offset_commits_total{job="log-indexer",result="error"}'
        in (alerts["IndexerCommitsFailing"])
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_setup_job_runs_indexer_setup_with_the_indexers_settings(
    rendered: Docs, overlay: str
) -> None:
    docs = rendered[overlay]
    (setup,) = indexer_containers(docs, "setup")
    (run,) = indexer_containers(docs, "run")
    assert setup.workload["kind"] == "Job"
    assert setup.spec["envFrom"] == run.spec["envFrom"]
    assert (
        settings_of(setup, docs).elasticsearch.hosts == settings_of(run, docs).elasticsearch.hosts
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_node_daemonset_runs_on_every_node(rendered: Docs, overlay: str) -> None:
    (daemonset,) = find(rendered[overlay], "DaemonSet")
    pod = pod_spec_of(daemonset) or {}
    assert {"operator": "Exists"} in pod["tolerations"], name_of(daemonset)
