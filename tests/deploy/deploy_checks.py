"""Checks of the deploy/ manifests, written as functions that return the problems they find.

The tests call them on the real overlays (expecting no problem) and on bad fixtures (expecting
the problem), so every check is shown to be able to fail. Nothing here needs a cluster: overlays
are rendered with `kubectl kustomize` and validated offline with `kubernetes-validate`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import yaml
from pydantic import BaseModel

from indexer.settings import ENV_NESTING, ENV_PREFIX, Settings, SettingsError, load_settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The Kubernetes version the manifests are validated against (kubernetes-validate ships the
# schemas of 1.25 onwards; 1.30 is the oldest version the pipeline supports).
KUBERNETES_VERSION = "1.30"

# Custom resources kubernetes-validate has no schema for: checked structurally by crd_problems().
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1", "PodMonitor"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
}

# The repository part of the project's image name, whatever registry and tag an overlay sets.
PROJECT_IMAGE = "log-indexer"

WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet", "Job", "CronJob", "Pod"}

# Beyond the model's own required fields, what a deployment must set because the defaults
# (localhost) are wrong inside a cluster. Keyed by the subcommand a container runs. Each path is
# checked to exist in the model, so a rename of a setting cannot silently disable the rule.
REQUIRED_BY_COMMAND: dict[str, tuple[str, ...]] = {
    "run": ("kafka.bootstrap_servers", "kafka.instance_id", "elasticsearch.hosts"),
    "setup": ("elasticsearch.hosts",),
    "agent": (),
}

# Kafka brokers' default message.max.bytes: filebeat's max_message_bytes must stay below it.
BROKER_MESSAGE_MAX_BYTES = 1048588


class KubectlMissingError(RuntimeError):
    """kubectl is needed to render the overlays; the tests fail (never skip) without it."""


# ---------------------------------------------------------------------------------------------
# Rendering and schema validation


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        raise KubectlMissingError(
            "kubectl is not installed: the deploy checks render overlays with `kubectl kustomize`"
            " (Debian: apt-get install kubectl; .ci/run installs it)"
        )
    return path


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize directory`, parsed; raises with kubectl's message on failure."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def overlay_dirs() -> list[Path]:
    return sorted(p.parent for p in (DEPLOY / "overlays").glob("*/kustomization.yaml"))


def name_of(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def is_crd(doc: dict[str, Any]) -> bool:
    return (doc.get("apiVersion"), doc.get("kind")) in CRD_KINDS


def schema_problems(docs: list[dict[str, Any]], version: str = KUBERNETES_VERSION) -> list[str]:
    """Strict schema validation of every non-CRD object (unknown fields are errors). The
    validator reports the first error of an object; fix it and the next one shows."""
    problems = []
    for doc in docs:
        if is_crd(doc):
            continue  # no schema in kubernetes-validate: crd_problems() checks these
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(
                f"{name_of(doc)}: no Kubernetes {version} schema for {doc['apiVersion']}"
            )
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"{name_of(doc)}: {where}: {exc.message}")
    return problems


_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def _balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"[^"]*"', "", expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def crd_problems(doc: dict[str, Any]) -> list[str]:
    """Structural checks of the custom resources kubernetes-validate cannot know."""
    kind, spec, who = doc.get("kind"), doc.get("spec") or {}, name_of(doc)
    problems: list[str] = []
    if not doc.get("metadata", {}).get("name"):
        problems.append(f"{who}: metadata.name missing")
    if kind == "ServiceMonitor":
        if not (spec.get("selector") or {}).get("matchLabels"):
            problems.append(f"{who}: spec.selector.matchLabels missing")
        endpoints = spec.get("endpoints") or []
        if not endpoints:
            problems.append(f"{who}: spec.endpoints empty")
        for endpoint in endpoints:
            if not (endpoint.get("port") or endpoint.get("targetPort")):
                problems.append(f"{who}: an endpoint names no port")
            if not str(endpoint.get("path", "/metrics")).startswith("/"):
                problems.append(f"{who}: endpoint path must start with /")
    elif kind == "PodMonitor":
        if not (spec.get("selector") or {}).get("matchLabels"):
            problems.append(f"{who}: spec.selector.matchLabels missing")
        endpoints = spec.get("podMetricsEndpoints") or []
        if not endpoints:
            problems.append(f"{who}: spec.podMetricsEndpoints empty")
        for endpoint in endpoints:
            if not endpoint.get("port"):
                problems.append(f"{who}: a pod metrics endpoint names no port")
            if not str(endpoint.get("path", "/metrics")).startswith("/"):
                problems.append(f"{who}: endpoint path must start with /")
    elif kind == "PrometheusRule":
        groups = spec.get("groups") or []
        if not groups:
            problems.append(f"{who}: spec.groups empty")
        for group in groups:
            if not group.get("name") or not group.get("rules"):
                problems.append(f"{who}: a group needs a name and rules")
            for rule in group.get("rules") or []:
                problems += _rule_problems(who, rule)
    elif kind == "ScaledObject":
        if not (spec.get("scaleTargetRef") or {}).get("name"):
            problems.append(f"{who}: spec.scaleTargetRef.name missing")
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
            problems.append(f"{who}: need integers 0 <= minReplicaCount <= maxReplicaCount")
        triggers = spec.get("triggers") or []
        if not triggers:
            problems.append(f"{who}: spec.triggers empty")
        for trigger in triggers:
            if not trigger.get("type"):
                problems.append(f"{who}: a trigger has no type")
            metadata = trigger.get("metadata") or {}
            if not all(isinstance(v, str) for v in metadata.values()):
                problems.append(f"{who}: trigger metadata values must all be strings")
            if trigger.get("type") == "kafka":
                for key in ("bootstrapServers", "consumerGroup", "lagThreshold"):
                    if key not in metadata:
                        problems.append(f"{who}: kafka trigger needs metadata.{key}")
    elif kind == "TriggerAuthentication":
        refs = spec.get("secretTargetRef") or []
        if not refs:
            problems.append(f"{who}: spec.secretTargetRef empty")
        for ref in refs:
            if not all(ref.get(k) for k in ("parameter", "name", "key")):
                problems.append(f"{who}: secretTargetRef entries need parameter, name and key")
    else:
        problems.append(f"{who}: no structural check for this custom resource")
    return problems


def _rule_problems(who: str, rule: dict[str, Any]) -> list[str]:
    problems = []
    name = rule.get("alert") or rule.get("record")
    if bool(rule.get("alert")) == bool(rule.get("record")):
        problems.append(f"{who}: a rule needs exactly one of alert and record")
    expr = rule.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        problems.append(f"{who}: rule {name} has no expr")
    elif not _balanced(expr):
        problems.append(f"{who}: rule {name} has unbalanced brackets")
    if "for" in rule and not _DURATION.match(str(rule["for"])):
        problems.append(f"{who}: rule {name} has a bad `for` duration")
    if rule.get("alert"):
        if (rule.get("labels") or {}).get("severity") not in {"critical", "warning", "info"}:
            problems.append(f"{who}: alert {name} needs severity critical, warning or info")
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problems.append(f"{who}: alert {name} needs annotations.{key}")
    return problems


# ---------------------------------------------------------------------------------------------
# The settings model, introspected


@dataclass(frozen=True)
class SettingVar:
    """One environment variable the settings model reads."""

    path: tuple[str, ...]
    section: bool  # a whole nested section, given as JSON
    mapping: bool  # a dict-typed leaf: deeper `__` parts address its keys
    required: bool


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_of(a))]
        return models[0] if len(models) == 1 else None
    return None


def _is_mapping(annotation: Any) -> bool:
    if typing.get_origin(annotation) is dict or annotation is dict:
        return True
    return any(_is_mapping(a) for a in typing.get_args(annotation) if a is not type(None))


def setting_vars(
    model: type[BaseModel] = Settings, prefix: tuple[str, ...] = ()
) -> dict[str, SettingVar]:
    """Every INDEXER_… variable of the model, walked recursively from `Settings.model_fields`."""
    found: dict[str, SettingVar] = {}
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        env = ENV_PREFIX + ENV_NESTING.join(p.upper() for p in path)
        sub = _model_of(info.annotation)
        found[env] = SettingVar(
            path, sub is not None, _is_mapping(info.annotation), info.is_required()
        )
        if sub is not None:
            found.update(setting_vars(sub, path))
    return found


def setting_path_exists(dotted: str) -> bool:
    return any(v.path == tuple(dotted.split(".")) for v in setting_vars().values())


def unknown_setting_problems(names: list[str], where: str) -> list[str]:
    """Names starting with INDEXER_ that the settings model does not read."""
    known = setting_vars()
    problems = []
    for name in names:
        if not name.upper().startswith(ENV_PREFIX):  # pydantic-settings ignores case
            continue
        if name != name.upper():
            problems.append(f"{where}: {name} must be upper case")
            continue
        if name in known:
            continue
        parents = [env for env, var in known.items() if var.mapping and name.startswith(env + "__")]
        if not parents:
            problems.append(f"{where}: {name} is not a setting of indexer.settings.Settings")
    return problems


@contextlib.contextmanager
def _only_environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    for key in saved:
        del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(ENV_PREFIX)})
    try:
        yield
    finally:
        for key in [k for k in os.environ if k.startswith(ENV_PREFIX)]:
            del os.environ[key]
        os.environ.update(saved)


def load_from_environment(env: dict[str, str]) -> Settings:
    """The Settings a container with exactly this environment would resolve (SettingsError)."""
    with _only_environment(env):
        return load_settings()


def set_paths(env: dict[str, str]) -> set[tuple[str, ...]]:
    """Setting paths (and all their parent sections) that the environment sets."""
    known = setting_vars()
    paths: set[tuple[str, ...]] = set()
    for name in env:
        var = known.get(name)
        if var is None:
            continue
        paths.add(var.path)
        if var.section:  # a whole section as JSON sets everything below it
            paths |= {v.path for v in known.values() if v.path[: len(var.path)] == var.path}
    return paths


# ---------------------------------------------------------------------------------------------
# Containers and their environment


@dataclass
class Container:
    workload: dict[str, Any]
    spec: dict[str, Any]
    pod_spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{name_of(self.workload)}[{self.spec.get('name')}]"

    @property
    def runs_project_image(self) -> bool:
        last = str(self.spec.get("image", "")).split("@", 1)[0].rsplit("/", 1)[-1]
        return last.split(":", 1)[0] == PROJECT_IMAGE

    @property
    def command(self) -> str:
        args = self.spec.get("args") or ["run"]
        return str(args[0])


def pod_spec_of(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    if kind not in WORKLOAD_KINDS:
        return None
    if kind == "Pod":
        return dict(doc.get("spec") or {})
    spec = doc.get("spec") or {}
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return dict((spec.get("template") or {}).get("spec") or {})


def containers(docs: list[dict[str, Any]]) -> list[Container]:
    found = []
    for doc in docs:
        pod = pod_spec_of(doc)
        if pod is None:
            continue
        for spec in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            found.append(Container(doc, spec, pod))
    return found


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]


_PLACEHOLDERS = {
    "metadata.name": "log-indexer-5d9c7b8f4-x2x7q",
    "metadata.namespace": "logging",
    "spec.nodeName": "node-1",
}
_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


@dataclass
class Environment:
    values: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # name -> literal|secret|field|config
    problems: list[str] = field(default_factory=list)


def environment(container: Container, docs: list[dict[str, Any]]) -> Environment:
    """The container's environment as Kubernetes builds it: envFrom first, then env in order,
    `$(VAR)` expanded against what is defined so far. Secret values become placeholders."""
    out = Environment()
    configmaps = {d["metadata"]["name"]: d.get("data") or {} for d in find(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in find(docs, "Secret")}
    for source in container.spec.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]["name"]
            if ref not in configmaps:
                out.problems.append(f"{container.name}: envFrom ConfigMap {ref} is not rendered")
                continue
            for key, value in configmaps[ref].items():
                out.values[prefix + key] = str(value)
                out.sources[prefix + key] = "config"
        else:
            out.problems.append(
                f"{container.name}: envFrom {list(source)} hides variable names from the check;"
                " use env entries with secretKeyRef"
            )
            ref = (source.get("secretRef") or {}).get("name")
            for key in (secrets.get(ref) or {}).get("data") or {}:
                out.values[prefix + key] = f"secret-{key}"
                out.sources[prefix + key] = "secret"
    for entry in container.spec.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            value = str(entry["value"])
            for ref in _REFERENCE.findall(value):
                if ref not in out.values:
                    out.problems.append(
                        f"{container.name}: {name} uses $({ref}), which is not defined before it"
                        " (Kubernetes would leave it unexpanded)"
                    )
            out.values[name] = _REFERENCE.sub(
                lambda m: out.values.get(m.group(1), m.group(0)), value
            )
            out.sources[name] = "literal"
            continue
        source = entry.get("valueFrom") or {}
        if "secretKeyRef" in source:
            out.values[name] = f"secret-{source['secretKeyRef']['key']}"
            out.sources[name] = "secret"
        elif "fieldRef" in source:
            out.values[name] = _PLACEHOLDERS.get(source["fieldRef"]["fieldPath"], "field")
            out.sources[name] = "field:" + source["fieldRef"]["fieldPath"]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            out.values[name] = str(configmaps.get(ref["name"], {}).get(ref["key"], ""))
            out.sources[name] = "config"
        else:
            out.values[name] = "1"
            out.sources[name] = "resource"
    return out


def settings_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Every INDEXER_… variable set by any container is a real setting; the project's containers
    resolve valid settings from their environment and set everything their command requires."""
    problems = []
    for policy in REQUIRED_BY_COMMAND.values():
        problems += [
            f"REQUIRED_BY_COMMAND: no setting {p}" for p in policy if not setting_path_exists(p)
        ]
    required_by_model = {v.path for v in setting_vars().values() if v.required}
    for container in containers(docs):
        env = environment(container, docs)
        problems += env.problems
        problems += unknown_setting_problems(list(env.values), container.name)
        for name, source in env.sources.items():
            secretish = any(word in name for word in ("PASSWORD", "API_KEY", "SECRET"))
            if name.startswith(ENV_PREFIX) and secretish and source != "secret":
                problems.append(f"{container.name}: {name} must come from a Secret")
        if not container.runs_project_image:
            continue
        # Unknown names are reported above; leave them out so the load checks the other values
        # (the indexer itself refuses them first).
        readable = {k: v for k, v in env.values.items() if not unknown_setting_problems([k], "")}
        try:
            load_from_environment(readable)
        except SettingsError as exc:
            problems.append(f"{container.name}: its settings do not load:\n{exc}")
            continue
        wanted = required_by_model | {
            tuple(p.split(".")) for p in REQUIRED_BY_COMMAND.get(container.command, ())
        }
        missing = wanted - set_paths(env.values)
        problems += [
            f"{container.name}: required setting {'.'.join(p)} is not set" for p in sorted(missing)
        ]
    return problems


def settings_of(container: Container, docs: list[dict[str, Any]]) -> Settings:
    return load_from_environment(environment(container, docs).values)


# ---------------------------------------------------------------------------------------------
# filebeat.yml


def expand_dotted(value: Any) -> Any:
    """Beats read `a.b: 1` as `a: {b: 1}`; expand dotted keys so lookups see one shape."""
    if isinstance(value, list):
        return [expand_dotted(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        parts = str(key).split(".")
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        leaf = expand_dotted(item)
        if isinstance(leaf, dict) and isinstance(target.get(parts[-1]), dict):
            target[parts[-1]].update(leaf)
        else:
            target[parts[-1]] = leaf
    return out


def filebeat_configs(docs: list[dict[str, Any]]) -> dict[str, str]:
    """ConfigMap name -> filebeat.yml text, for every rendered ConfigMap holding one."""
    return {
        d["metadata"]["name"]: d["data"]["filebeat.yml"]
        for d in find(docs, "ConfigMap")
        if "filebeat.yml" in (d.get("data") or {})
    }


def _mount_of(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The volume mount that holds `path` in the container (the deepest one)."""
    best = None
    for mount in container.get("volumeMounts") or []:
        root = PurePosixPath(mount["mountPath"])
        target = PurePosixPath(path)
        if (target == root or root in target.parents) and (
            best is None or len(mount["mountPath"]) > len(best["mountPath"])
        ):
            best = mount
    return best


def agent_settings_of(env: dict[str, str]) -> Any:
    """The node agent's effective settings: `Settings().agent` once the section exists."""
    if "agent" in Settings.model_fields:
        return load_from_environment(env).agent
    from indexer.agent.settings import AgentSettings

    return AgentSettings()


def filebeat_problems(text: str, docs: list[dict[str, Any]], where: str) -> list[str]:
    """filebeat.yml parses; inputs come from where the agent writes, reloaded; the Kafka output
    keeps each file in order, is bounded below the broker limit and feeds the indexer's topic."""
    try:
        config = expand_dotted(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        return [f"{where}: filebeat.yml does not parse: {exc}"]
    if not isinstance(config, dict):
        return [f"{where}: filebeat.yml is not a mapping"]
    problems = []
    inputs = ((config.get("filebeat") or {}).get("config") or {}).get("inputs") or {}
    if inputs.get("enabled") is False or not inputs.get("path"):
        problems.append(f"{where}: filebeat.config.inputs needs a path (and must be enabled)")
    if (inputs.get("reload") or {}).get("enabled") is not True:
        problems.append(f"{where}: filebeat.config.inputs.reload.enabled must be true")
    kafka = (config.get("output") or {}).get("kafka") or {}
    if not kafka:
        problems.append(f"{where}: output.kafka missing")
    hashed = ((kafka.get("partition") or {}).get("hash")) or {}
    if hashed.get("hash") != ["log.file.path"]:
        problems.append(f"{where}: output.kafka.partition.hash.hash must be ['log.file.path']")
    if hashed.get("reachable_only") is not False:
        problems.append(f"{where}: output.kafka.partition.hash.reachable_only must be false")
    if kafka.get("required_acks") not in (-1, 1):
        problems.append(f"{where}: output.kafka.required_acks must be -1 (or 1)")
    if kafka.get("compression") not in {"gzip", "snappy", "lz4", "zstd"}:
        problems.append(f"{where}: output.kafka.compression must be gzip, snappy, lz4 or zstd")
    size = kafka.get("max_message_bytes")
    if not (isinstance(size, int) and 0 < size < BROKER_MESSAGE_MAX_BYTES):
        problems.append(
            f"{where}: output.kafka.max_message_bytes must be < {BROKER_MESSAGE_MAX_BYTES}"
        )
    if config.get("name") != "${NODE_NAME}":
        problems.append(f"{where}: name must be ${{NODE_NAME}} (the node's name)")
    problems += _filebeat_pod_problems(config, text, docs, where)
    return problems


def _filebeat_pod_problems(
    config: dict[str, Any], text: str, docs: list[dict[str, Any]], where: str
) -> list[str]:
    """The DaemonSet that mounts this filebeat.yml: the shared inputs directory, the log and
    registry volumes, the node name, every ${VAR}, and agreement with the indexer's settings."""
    problems: list[str] = []
    users = [
        d
        for d in find(docs, "DaemonSet")
        if any(
            (v.get("configMap") or {}).get("name") == where
            for v in (pod_spec_of(d) or {}).get("volumes") or []
        )
    ]
    if len(users) != 1:
        return [f"{where}: expected one DaemonSet mounting it, found {len(users)}"]
    pod = pod_spec_of(users[0]) or {}
    by_name = {c["name"]: c for c in pod.get("containers") or []}
    filebeat, agent = by_name.get("filebeat"), by_name.get("agent")
    if filebeat is None or agent is None:
        return [f"{where}: the DaemonSet needs containers named filebeat and agent"]
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    agent_container = Container(users[0], agent, pod)
    agent_env = environment(agent_container, docs).values
    agent_settings = agent_settings_of(agent_env)

    glob = str(
        (((config.get("filebeat") or {}).get("config") or {}).get("inputs") or {}).get("path")
    )
    glob_dir, pattern = str(PurePosixPath(glob).parent), PurePosixPath(glob).name
    inputs_dir = str(agent_settings.inputs_dir)
    fb_mount, agent_mount = _mount_of(filebeat, glob_dir), _mount_of(agent, inputs_dir)
    if fb_mount is None or agent_mount is None or fb_mount["name"] != agent_mount["name"]:
        problems.append(
            f"{where}: filebeat reads inputs from {glob_dir} and the agent writes them to"
            f" {inputs_dir}: they must be one shared volume"
        )
    elif fb_mount["mountPath"] != glob_dir or agent_mount["mountPath"] != inputs_dir:
        problems.append(f"{where}: the shared inputs volume must be mounted at both directories")
    elif "emptyDir" not in volumes.get(fb_mount["name"], {}):
        problems.append(f"{where}: the inputs volume should be an emptyDir of the pod")
    from indexer.agent.render import file_name

    if not PurePosixPath(file_name("ns", "app")).match(pattern):
        problems.append(f"{where}: the agent's input file names do not match {pattern}")

    logs_root = str(agent_settings.logs_root)
    fb_logs, agent_logs = _mount_of(filebeat, logs_root), _mount_of(agent, logs_root)
    if fb_logs is None or not fb_logs.get("readOnly"):
        problems.append(f"{where}: filebeat must mount {logs_root} read-only")
    if agent_logs is None or agent_logs.get("readOnly"):
        problems.append(f"{where}: the agent must mount {logs_root} read-write")
    for mount in (fb_logs, agent_logs):
        if (
            mount
            and (volumes.get(mount["name"], {}).get("hostPath") or {}).get("path") != logs_root
        ):
            problems.append(f"{where}: {logs_root} must be the node's {logs_root} (hostPath)")

    data = str((config.get("path") or {}).get("data", "/usr/share/filebeat/data"))
    registry = _mount_of(filebeat, data)
    if registry is None or "hostPath" not in volumes.get(registry["name"], {}):
        problems.append(f"{where}: filebeat's registry ({data}) must be on a hostPath")

    if not any(
        t.get("operator") == "Exists" and not t.get("key") for t in pod.get("tolerations") or []
    ):
        problems.append(f"{where}: the DaemonSet must tolerate every taint (operator: Exists)")

    fb_env = environment(Container(users[0], filebeat, pod), docs)
    if fb_env.sources.get("NODE_NAME") != "field:spec.nodeName":
        problems.append(f"{where}: filebeat's NODE_NAME must come from spec.nodeName")
    for var in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        if var not in fb_env.values:
            problems.append(f"{where}: filebeat.yml uses ${{{var}}}, not set in the container")

    kafka = (config.get("output") or {}).get("kafka") or {}
    indexers = [c for c in containers(docs) if c.runs_project_image and c.command == "run"]
    for indexer in indexers:
        settings = settings_of(indexer, docs)
        topic = str(kafka.get("topic"))
        consumed = (
            topic in (settings.kafka.topics or [])
            if settings.kafka.topics
            else re.match(settings.kafka.subscription[0], topic) is not None
        )
        if not consumed:
            problems.append(f"{where}: filebeat's topic {topic} is not consumed by {indexer.name}")
        hosts = {str(h) for h in kafka.get("hosts") or []}
        if hosts != set(settings.kafka.bootstrap_servers.split(",")):
            problems.append(f"{where}: filebeat's Kafka hosts differ from {indexer.name}'s")
    return problems


# ---------------------------------------------------------------------------------------------
# Dockerfiles


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]]


def dockerfile_stages(text: str) -> list[Stage]:
    """Instructions grouped by stage (line continuations joined, comments dropped)."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, alias, []))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


COMPILERS = ("build-essential", "gcc", "g++", "clang", "make", "cc ", "python3-dev", "libc6-dev")


def final_stage_problems(stages: list[Stage], entrypoint: str | None) -> list[str]:
    """Multi-stage; the final stage runs as a non-root numeric user, has no compilers, and (when
    given) uses `entrypoint` as its entrypoint."""
    if len(stages) < 2:
        return ["the Dockerfile must be multi-stage"]
    final = stages[-1]
    problems = []
    users = [rest for keyword, rest in final.instructions if keyword == "USER"]
    user = users[-1].split(":")[0] if users else "0"
    if not user.isdigit() or user == "0":
        problems.append(f"the final stage must end as a numeric non-root USER (got {user!r})")
    for keyword, rest in final.instructions:
        if keyword == "RUN" and any(c in rest + " " for c in COMPILERS):
            problems.append(f"the final stage installs build tools: RUN {rest[:80]}")
    if entrypoint is not None:
        found = [rest for keyword, rest in final.instructions if keyword == "ENTRYPOINT"]
        if not found or yaml.safe_load(found[-1]) != [entrypoint]:
            problems.append(f'the final stage needs ENTRYPOINT ["{entrypoint}"] (got {found})')
    return problems


# ---------------------------------------------------------------------------------------------
# Namespaces and the standard labels

# https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
STANDARD_LABELS = tuple(
    f"app.kubernetes.io/{key}"
    for key in ("name", "instance", "version", "component", "part-of", "managed-by")
)

# Kinds of the render that are not namespaced (the API server ignores or refuses a namespace).
CLUSTER_SCOPED_KINDS = {"Namespace", "PriorityClass", "ClusterRole", "ClusterRoleBinding"}


def namespace_and_label_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Every namespaced object in the render's one Namespace, every object with the six standard
    labels (non-empty), and one `instance` and one `version` across the render: an object
    without a namespace lands in whatever namespace kubectl's context points at."""
    problems: list[str] = []
    namespaces = [d["metadata"]["name"] for d in docs if d.get("kind") == "Namespace"]
    if len(namespaces) != 1:
        problems.append(f"the render must hold exactly one Namespace, found {namespaces}")
    expected = namespaces[0] if namespaces else None
    seen: dict[str, set[str]] = {
        "app.kubernetes.io/instance": set(),
        "app.kubernetes.io/version": set(),
    }
    for doc in docs:
        metadata = doc.get("metadata") or {}
        who = name_of(doc)
        namespace = metadata.get("namespace")
        if doc.get("kind") in CLUSTER_SCOPED_KINDS:
            if namespace is not None:
                problems.append(f"{who}: cluster-scoped but has namespace {namespace!r}")
        elif namespace != expected:
            problems.append(f"{who}: namespace {namespace!r}, expected {expected!r}")
        labels = metadata.get("labels") or {}
        for key in STANDARD_LABELS:
            if not labels.get(key):
                problems.append(f"{who}: label {key} missing")
        for key, values in seen.items():
            if labels.get(key):
                values.add(labels[key])
    for key, values in seen.items():
        if len(values) > 1:
            problems.append(f"{key} differs between objects: {sorted(values)}")
    return problems
