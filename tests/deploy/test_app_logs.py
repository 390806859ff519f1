"""Issue 8: the s6 base image and the pod template put app logs where the agent and the indexer
expect them, and the agent's filebeat input reads them but not s6-log's own files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from deploy_checks import (
    DEPLOY,
    Container,
    containers,
    dockerfile_stages,
    environment,
    find,
    render,
    schema_problems,
)

from indexer.identity import Identity, IdentityResolver
from indexer.settings import Settings

APP_BASE = DEPLOY / "app-base"
S6_RC = APP_BASE / "rootfs" / "etc" / "s6-overlay" / "s6-rc.d"
SAMPLE_POD = "ticker-7d4b9c8f6-x2x7q"
# What s6-log writes in its logdir: the rename chain of log lines filebeat must read (`current`,
# `previous` during a rotation, archives `@<tai64n>.s` and `.u` after an interrupted run), and its
# own bookkeeping that filebeat must not read.
S6_LOG_LINES = ("current", "previous", "@400000006553f1a20b1c2d3e.s", "@400000006553f1a20b1c2d3e.u")
S6_LOG_OWN_FILES = ("lock", "state", "processed", "newstate")


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return render(APP_BASE / "sample")


def app_container(docs: list[dict[str, Any]]) -> Container:
    (container,) = [c for c in containers(docs) if c.spec["name"] == "app"]
    return container


def node_path(docs: list[dict[str, Any]], pod_name: str, file: str) -> str:
    """The node path of `file` written in /var/log/app by the sample pod called `pod_name`,
    computed as the kubelet does: subPathExpr expanded with the container's env."""
    container = app_container(docs)
    (mount,) = [m for m in container.spec["volumeMounts"] if m["mountPath"] == "/var/log/app"]
    volumes = {v["name"]: v for v in container.pod_spec["volumes"]}
    host_root = volumes[mount["name"]]["hostPath"]["path"]
    labels = container.workload["spec"]["template"]["metadata"]["labels"]
    namespace = container.workload["metadata"]["namespace"]
    downward = {
        "metadata.namespace": namespace,
        "metadata.name": pod_name,
        **{f"metadata.labels['{k}']": v for k, v in labels.items()},
    }
    values = {}
    for entry in container.spec["env"]:
        values[entry["name"]] = downward[entry["valueFrom"]["fieldRef"]["fieldPath"]]
    sub = re.sub(r"\$\((\w+)\)", lambda m: values[m.group(1)], mount["subPathExpr"])
    return f"{host_root}/{sub}/{file}"


def test_the_sample_app_renders_and_validates_like_the_other_manifests(
    sample: list[dict[str, Any]],
) -> None:
    assert schema_problems(sample) == []
    assert find(sample, "Deployment", "ticker")


def test_the_pod_template_mounts_the_node_log_tree_with_downward_api_names(
    sample: list[dict[str, Any]],
) -> None:
    container = app_container(sample)
    (mount,) = [m for m in container.spec["volumeMounts"] if m["name"] == "app-logs"]
    assert mount["mountPath"] == "/var/log/app"
    assert mount["subPathExpr"] == "$(POD_NAMESPACE)/$(APP_NAME)/$(POD_NAME)/log"
    assert not mount.get("readOnly")
    env = environment(container, sample)
    assert env.sources["POD_NAMESPACE"] == "field:metadata.namespace"
    assert env.sources["APP_NAME"] == "field:metadata.labels['app.kubernetes.io/name']"
    assert env.sources["POD_NAME"] == "field:metadata.name"
    volumes = {v["name"]: v for v in container.pod_spec["volumes"]}
    assert volumes["app-logs"]["hostPath"]["path"] == str(Settings().agent.logs_root)


def test_the_path_a_sample_pod_writes_resolves_to_its_namespace_app_and_pod(
    sample: list[dict[str, Any]],
) -> None:
    resolver = IdentityResolver(Settings().routing.layouts)
    for file in (*S6_LOG_LINES, *S6_LOG_OWN_FILES):
        path = node_path(sample, SAMPLE_POD, file)
        assert path == f"/data/logs/demo/ticker/{SAMPLE_POD}/log/{file}"
        assert resolver.resolve(path) == Identity("demo", "ticker", SAMPLE_POD, None)


def test_the_agents_input_reads_s6_logs_whole_rename_chain_but_not_its_own_files(
    sample: list[dict[str, Any]],
) -> None:
    from indexer.agent.render import covers, input_for

    settings = Settings().agent
    rendered = input_for(settings, "demo", "ticker")
    for file in S6_LOG_LINES:
        assert covers(rendered, node_path(sample, SAMPLE_POD, file)), file
    for file in S6_LOG_OWN_FILES:
        assert not covers(rendered, node_path(sample, SAMPLE_POD, file)), file
    other_app = node_path(sample, SAMPLE_POD, "current").replace("/ticker/", "/other/")
    assert not covers(rendered, other_app)


def test_the_base_image_pins_s6_overlay_by_version_and_verifies_each_archives_sha256() -> None:
    text = (APP_BASE / "Dockerfile").read_text()
    stages = dockerfile_stages(text)
    assert len(stages) >= 2
    args = dict(
        rest.split("=", 1)
        for stage in stages
        for keyword, rest in stage.instructions
        if keyword == "ARG" and "=" in rest
    )
    assert re.fullmatch(r"3\.\d+\.\d+\.\d+", args["S6_OVERLAY_VERSION"])
    for arch in ("NOARCH", "X86_64", "AARCH64"):
        assert re.fullmatch(r"[0-9a-f]{64}", args[f"S6_OVERLAY_{arch}_SHA256"]), arch
    assert "releases/download/v${S6_OVERLAY_VERSION}" in text
    assert "s6-overlay-noarch.tar.xz" in text
    assert "s6-overlay-${arch}.tar.xz" in text
    checks = re.findall(r'echo "\$\{(\w+)\}  (\S+)" \| sha256sum -c -', text)
    assert checks == [
        ("S6_OVERLAY_NOARCH_SHA256", "s6-overlay-noarch.tar.xz"),
        ("sum", "s6-overlay-${arch}.tar.xz"),
    ]
    # extraction only after both checks
    assert text.index("sha256sum -c") < text.index("tar -C /s6-root")
    final = stages[-1]
    assert [rest for keyword, rest in final.instructions if keyword == "ENTRYPOINT"] == [
        '["/init"]'
    ]
    assert not [rest for keyword, rest in final.instructions if keyword == "RUN" and "curl" in rest]


def read(service: str, name: str) -> str:
    return (S6_RC / service / name).read_text().strip()


def test_the_app_and_its_s6_log_logger_form_a_named_pipeline_started_by_the_user_bundle() -> None:
    assert read("app", "type") == "longrun"
    assert read("app-log", "type") == "longrun"
    assert read("app-log-prepare", "type") == "oneshot"
    assert read("app", "producer-for") == "app-log"
    assert read("app-log", "consumer-for") == "app"
    pipeline = read("app-log", "pipeline-name")
    assert (S6_RC / "user" / "contents.d" / pipeline).is_file()
    assert (S6_RC / "app-log" / "dependencies.d" / "app-log-prepare").is_file()
    for service in ("app", "app-log", "app-log-prepare"):
        assert (S6_RC / service / "dependencies.d" / "base").is_file(), service
    up = Path(str(APP_BASE / "rootfs") + read("app-log-prepare", "up"))
    for script in (S6_RC / "app" / "run", S6_RC / "app-log" / "run", up):
        assert os.access(script, os.X_OK), f"{script} must be executable"


def test_the_logger_rotates_by_size_and_count_timestamps_lines_and_writes_var_log_app() -> None:
    run = read("app-log", "run")
    (command,) = [line for line in run.splitlines() if line.startswith("exec ")]
    words = command.replace('"', "").split()
    script = words[words.index("s6-log") + 1 :]
    assert script[-1] == "/var/log/app"
    assert any(re.fullmatch(r"n(\d+|\$\{APP_LOG_KEEP:-\d+\})", w) for w in script)
    assert any(re.fullmatch(r"s(\d+|\$\{APP_LOG_SIZE:-\d+\})", w) for w in script)
    assert "T" in script
    assert "s6-setuidgid applog" in command
    assert "s6-setuidgid app " in read("app", "run")
    prepare = (
        APP_BASE / "rootfs" / "etc" / "s6-overlay" / "scripts" / "app-log-prepare"
    ).read_text()
    assert "chown applog:applog /var/log/app" in prepare


def test_the_sample_app_logs_a_line_a_second_from_an_executable_app_run() -> None:
    run = APP_BASE / "sample" / "app" / "run"
    assert os.access(run, os.X_OK)
    started = time.monotonic()
    app = subprocess.Popen([run], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert app.stdout is not None
        lines = [json.loads(app.stdout.readline()) for _ in range(4)]
        took = time.monotonic() - started
    finally:
        app.kill()
        app.wait(5)
    assert lines == [{"level": "info", "message": f"tick {i}", "tick": i} for i in (1, 2, 3, 4)]
    assert 2.9 <= took < 8, took  # three `sleep 1` between four lines: never faster
    assert (APP_BASE / "sample" / "Dockerfile").read_text().count("FROM ${BASE_IMAGE}") == 1


# ---------------------------------------------------------------------------------------------
# Issue 13: the node side without loss


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_the_node_daemonset_pins_filebeat_waits_for_acks_and_lets_the_agent_read_the_registry(
    overlay: str,
) -> None:
    import yaml
    from deploy_checks import expand_dotted, filebeat_configs

    docs = render(DEPLOY / "overlays" / overlay)
    (daemonset,) = find(docs, "DaemonSet", "log-node")
    pod = daemonset["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in pod["containers"]}
    image = by_name["filebeat"]["image"]
    assert re.fullmatch(r"docker\.elastic\.co/beats/filebeat:(8|9)\.\d+\.\d+", image), image
    (text,) = filebeat_configs(docs).values()
    config = expand_dotted(yaml.safe_load(text))
    timeout = re.fullmatch(r"(\d+)s", str(config["filebeat"]["shutdown_timeout"]))
    assert timeout and 0 < int(timeout.group(1)) < pod["terminationGracePeriodSeconds"]
    registry_dir = str(Settings().agent.filebeat.registry_dir)
    data = str(config["path"]["data"])
    assert registry_dir == f"{data}/registry/filebeat"
    (mount,) = [m for m in by_name["agent"]["volumeMounts"] if m["mountPath"] == data]
    (fb_mount,) = [m for m in by_name["filebeat"]["volumeMounts"] if m["mountPath"] == data]
    assert mount["readOnly"] is True and mount["name"] == fb_mount["name"]


def test_a_line_at_the_input_cap_fits_kafkas_limit_even_fully_escaped() -> None:
    import json

    import yaml
    from deploy_checks import expand_dotted

    from indexer.agent.render import input_for

    settings = Settings().agent
    cap = int(input_for(settings, "a" * 63, "b" * 63)["message_max_bytes"])
    config = expand_dotted(yaml.safe_load((DEPLOY / "base/node/filebeat.yml").read_text()))
    limit = config["output"]["kafka"]["max_message_bytes"]
    path = f"{settings.logs_root}/{'a' * 63}/{'b' * 63}/{'c' * 253}/log/@400000006553f1a20b1c2d3e.s"
    event = {  # NODE-SIDE.md section 6, every field at its longest
        "@timestamp": "2025-01-01T00:00:00.000Z",  # fixed on purpose: only its length counts
        "@metadata": {"beat": "filebeat", "type": "_doc", "version": "9.99.99"},
        "log": {
            "offset": 2**63,
            "file": {"path": path, "device_id": str(2**64), "inode": str(2**64)},
            "flags": ["truncated"],
        },
        "message": "\x01" * cap,  # a control character is escaped to 6 bytes (\u0001)
        "input": {"type": "filestream"},
        "fields": {"namespace": "a" * 63, "app": "b" * 63},
        "ecs": {"version": "8.0.0"},
        "host": {"name": "n" * 253},
        "agent": {
            "ephemeral_id": "e" * 36,
            "id": "i" * 36,
            "name": "n" * 253,
            "type": "filebeat",
            "version": "9.99.99",
        },
    }
    assert len(json.dumps(event).encode()) < limit


def test_the_logger_splits_lines_below_filebeats_skip_limit() -> None:
    from indexer.agent.render import input_for

    run = read("app-log", "run")
    limit = int(re.search(r'-l "\$\{APP_LOG_LINE_LIMIT:-(\d+)\}"', run).group(1))  # type: ignore[union-attr]
    cap = int(input_for(Settings().agent, "demo", "ticker")["message_max_bytes"])
    timestamp = len("2025-01-01 00:00:00.123456789  ")
    assert cap < limit + timestamp <= 4 * cap  # cut and flagged by filebeat, never skipped


@pytest.mark.parametrize("app", ["Cart-API", "ledger_v2", "web.v2"])
def test_a_label_value_with_upper_case_underscore_or_dot_reaches_the_node_path_unchanged(
    sample: list[dict[str, Any]], app: str
) -> None:
    import copy

    from indexer.agent.render import covers, input_for
    from indexer.route import Router

    docs = copy.deepcopy(sample)
    workload = app_container(docs).workload
    for labels in (
        workload["spec"]["template"]["metadata"]["labels"],
        workload["spec"]["selector"]["matchLabels"],
    ):
        labels["app.kubernetes.io/name"] = app
    assert schema_problems(docs) == []
    path = node_path(docs, SAMPLE_POD, "current")
    assert path == f"/data/logs/demo/{app}/{SAMPLE_POD}/log/current"
    settings = Settings()
    identity = IdentityResolver(settings.routing.layouts).resolve(path)
    assert identity == Identity("demo", app, SAMPLE_POD, None)
    assert covers(input_for(settings.agent, "demo", app), path)
    # fixed on purpose: a pure call of the router with an explicit ingestion time
    event = {"@timestamp": "2026-11-25T10:00:00.000Z", "log": {"file": {"path": path}}}
    ingested = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()
    index = Router(settings.routing).route(event, ingested)
    assert index == f"k8s-logs-demo_{app.lower()}-2026.11.25"
