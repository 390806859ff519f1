"""The deploy checks themselves: each one catches the mistake it exists for."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from deploy_checks import (
    FIXTURES,
    SettingVar,
    crd_problems,
    dockerfile_stages,
    filebeat_configs,
    filebeat_problems,
    final_stage_problems,
    find,
    render,
    schema_problems,
    setting_vars,
    settings_problems,
    unknown_setting_problems,
)
from pydantic import BaseModel

from indexer.settings import Settings

Docs = dict[str, list[dict[str, Any]]]


def test_setting_vars_walks_every_section_of_the_settings_model() -> None:
    found = setting_vars()
    for name, field in Settings.model_fields.items():
        is_section = isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
        assert found[f"INDEXER_{name.upper()}"].section == is_section, name
    assert found["INDEXER_KAFKA__BOOTSTRAP_SERVERS"] == SettingVar(
        ("kafka", "bootstrap_servers"), section=False, mapping=False, required=False
    )
    assert found["INDEXER_KAFKA__OPTIONS"].mapping


def test_unknown_and_misspelt_indexer_variables_are_reported_and_others_ignored() -> None:
    problems = unknown_setting_problems(
        [
            "INDEXER_FOO",
            "INDEXER_KAFKA__BOOTSTRAP_SERVER",
            "indexer_log__level",
            "INDEXER_KAFKA__BOOTSTRAP_SERVERS",
            "INDEXER_KAFKA__OPTIONS__SASL_USERNAME",
            "NODE_NAME",
        ],
        "here",
    )
    assert problems == [
        "here: INDEXER_FOO is not a setting of indexer.settings.Settings",
        "here: INDEXER_KAFKA__BOOTSTRAP_SERVER is not a setting of indexer.settings.Settings",
        "here: indexer_log__level must be upper case",
    ]


def test_a_bad_overlay_is_caught_for_unknown_names_bad_values_literal_secrets_and_late_refs() -> (
    None
):
    docs = render(FIXTURES / "bad-settings")
    problems = "\n".join(settings_problems(docs))
    assert "INDEXER_FOO is not a setting" in problems
    assert "INDEXER_KAFKA__BOOTSTRAP_SERVER is not a setting" in problems
    assert "batch.max_docs (INDEXER_BATCH__MAX_DOCS)" in problems
    assert "INDEXER_ELASTICSEARCH__PASSWORD must come from a Secret" in problems
    assert "uses $(LATER_USER), which is not defined before it" in problems


def test_a_required_setting_left_unset_is_reported(rendered: Docs) -> None:
    docs = copy.deepcopy(rendered["dev"])
    for configmap in find(docs, "ConfigMap"):
        configmap.get("data", {}).pop("INDEXER_KAFKA__BOOTSTRAP_SERVERS", None)
    problems = settings_problems(docs)
    assert any("required setting kafka.bootstrap_servers is not set" in p for p in problems)


def test_strict_schema_validation_rejects_an_unknown_field_and_a_wrong_type(
    rendered: Docs,
) -> None:
    docs = copy.deepcopy(rendered["dev"])
    (deployment,) = find(docs, "Deployment", "log-indexer")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicyy"] = "Always"
    assert "imagePullPolicyy" in "\n".join(schema_problems(docs))
    del container["imagePullPolicyy"]
    deployment["spec"]["replicas"] = "three"
    assert schema_problems(docs) == [
        "Deployment/log-indexer: spec.replicas: 'three' is not of type 'integer', 'null'"
    ]


def test_an_object_without_a_known_schema_is_an_error_not_a_silent_skip() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert schema_problems([doc]) == ["Widget/w: no Kubernetes 1.30 schema for example.com/v1"]


def test_crd_checks_reject_a_rule_without_expr_and_non_string_keda_metadata(
    rendered: Docs,
) -> None:
    docs = copy.deepcopy(rendered["production"])
    (rules,) = find(docs, "PrometheusRule")
    del rules["spec"]["groups"][0]["rules"][0]["expr"]
    rules["spec"]["groups"][0]["rules"][1]["annotations"].pop("runbook_url")
    (scaled,) = find(docs, "ScaledObject")
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 50000
    assert crd_problems(rules) == [
        "PrometheusRule/log-indexer: rule IndexerConsumerLagGrowing has no expr",
        "PrometheusRule/log-indexer: alert IndexerDeadLetterRate needs annotations.runbook_url",
    ]
    assert crd_problems(scaled) == [
        "ScaledObject/log-indexer: trigger metadata values must all be strings"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('partition.hash:\n    hash: ["log.file.path"]\n', "partition.round_robin:\n"),
            "partition.hash.hash must be ['log.file.path']",
        ),
        (("reload.enabled: true", "reload.enabled: false"), "reload.enabled must be true"),
        (
            ("path: /etc/filebeat/inputs.d/*.yml", "path: /usr/share/filebeat/inputs.d/*.yml"),
            "they must be one shared volume",
        ),
        (("max_message_bytes: 1000000", "max_message_bytes: 2000000"), "max_message_bytes"),
        (("topic: filebeat-logs", "topic: other-logs"), "is not consumed by"),
        (("name: ${NODE_NAME}", "name: ${HOSTNAME}"), "name must be ${NODE_NAME}"),
        (("required_acks: -1", "required_acks: 0"), "required_acks must be -1"),
    ],
)
def test_the_filebeat_check_rejects_each_broken_setting(
    rendered: Docs, change: tuple[str, str], expected: str
) -> None:
    docs = rendered["production"]
    ((name, text),) = filebeat_configs(docs).items()
    assert change[0] in text
    problems = filebeat_problems(text.replace(*change), docs, name)
    assert any(expected in p for p in problems), problems


def test_the_filebeat_check_rejects_a_writable_log_mount_in_filebeat(rendered: Docs) -> None:
    docs = copy.deepcopy(rendered["production"])
    ((name, text),) = filebeat_configs(docs).items()
    (daemonset,) = find(docs, "DaemonSet")
    filebeat = daemonset["spec"]["template"]["spec"]["containers"][0]
    for mount in filebeat["volumeMounts"]:
        if mount["mountPath"] == "/data/logs":
            mount["readOnly"] = False
    assert "filebeat must mount /data/logs read-only" in "\n".join(
        filebeat_problems(text, docs, name)
    )


def test_the_dockerfile_check_rejects_single_stage_root_and_compilers_in_the_final_stage() -> None:
    single = dockerfile_stages('FROM python:3.11-slim\nENTRYPOINT ["indexer"]\n')
    assert final_stage_problems(single, "indexer") == ["the Dockerfile must be multi-stage"]
    bad = dockerfile_stages(
        "FROM python:3.11 AS build\nRUN true\n"
        "FROM python:3.11-slim\nRUN apt-get install -y \\\n  build-essential\n"
        'USER root\nENTRYPOINT ["python"]\n'
    )
    assert final_stage_problems(bad, "indexer") == [
        "the final stage must end as a numeric non-root USER (got 'root')",
        "the final stage installs build tools: RUN apt-get install -y    build-essential",
        'the final stage needs ENTRYPOINT ["indexer"] (got [\'["python"]\'])',
    ]
