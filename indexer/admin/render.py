"""Turn the files into the exact bodies one cluster gets.

Rendering is where the cluster's differences go, so the files stay one reviewed copy:
- Elasticsearch with ILM: index templates get `index.lifecycle.name` (the template's own, else
  the default policy) and `index.lifecycle.parse_origination_date`, so ILM counts an index's age
  from the day in its name (`…-YYYY.MM.DD`, which every name of ours ends with), not from its
  creation: a backfilled day created today does not live a whole retention from today
  (REAL-CLUSTERS.md §3). ILM policies go as they are.
- Anywhere else, `index.lifecycle.*` is removed (OpenSearch refuses the setting).
- OpenSearch: mappings get its types (`ClusterInfo.mappings`: `flattened` becomes
  `flat_object`, the same role: one field holding any object of keys; older 2.x get `text` and
  `keyword` for `match_only_text` and `wildcard`), and ILM policies become ISM policies whose
  `ism_template` attaches them to new indices.
- The per-namespace template is the default index template with that namespace's pattern, a
  higher priority and the namespace's policy.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from indexer.admin.definitions import BASE_TEMPLATE, Definitions
from indexer.admin.naming import namespace_pattern
from indexer.admin.settings import LifecycleSettings
from indexer.admin.values import PHASES, flatten_settings
from indexer.cluster import ISM_POLICIES, ClusterInfo

# Priorities: every Elasticsearch built-in sits at 100 (120 for logs-*.otel-*), Fleet's at up to
# 200, and Elastic advises above 500 for a template that could overlap them (REAL-CLUSTERS.md
# §1.5). Ours: the app template 510, a namespace's own 520, dead letters and unmatched 530.
NAMESPACE_TEMPLATE_PRIORITY = 520
NAMESPACE_RULE_PRIORITY = 699  # ISM: the first namespace rule gets 699, the next 698, ...
MANAGED_BY = "log-indexer"
_ISM_VERSION = re.compile(r"\bversion (\d+)\b")


@dataclass(frozen=True)
class Desired:
    """One object the cluster should hold: where to PUT it, what, and its reviewed version."""

    kind: str  # component_template, index_template, ilm_policy, ism_policy
    name: str
    body: dict[str, Any]
    version: int | None

    @property
    def path(self) -> str:
        return {
            "component_template": f"/_component_template/{self.name}",
            "index_template": f"/_index_template/{self.name}",
            "ilm_policy": f"/_ilm/policy/{self.name}",
            "ism_policy": f"{ISM_POLICIES}/{self.name}",
        }[self.kind]


def desired_objects(
    definitions: Definitions, cluster: ClusterInfo, settings: LifecycleSettings, prefix: str
) -> list[Desired]:
    """Everything setup puts, in a safe order: policies, then components, then index templates."""
    objects: list[Desired] = []
    if cluster.lifecycle == "ilm":
        for name, body in definitions.policies.items():
            objects.append(Desired("ilm_policy", name, body, policy_version(body)))
    elif cluster.lifecycle == "ism":
        patterns = ism_patterns(definitions, settings, prefix)
        for name, body in definitions.policies.items():
            ism = ism_policy(name, body, patterns.get(name, []))
            objects.append(Desired("ism_policy", name, ism, policy_version(body)))
    for name, body in definitions.components.items():
        rendered = render_component(body, cluster)
        objects.append(Desired("component_template", name, rendered, body.get("version")))
    for name, body in definitions.index_templates.items():
        policy = definitions.template_policy(name) or settings.default_policy
        rendered = render_index_template(body, cluster, policy)
        objects.append(Desired("index_template", name, rendered, body.get("version")))
    return objects


def policy_version(body: dict[str, Any]) -> int | None:
    version = body.get("policy", {}).get("_meta", {}).get("version")
    return version if isinstance(version, int) else None


def render_component(body: dict[str, Any], cluster: ClusterInfo) -> dict[str, Any]:
    rendered = copy.deepcopy(body)
    if "template" in rendered:
        rendered["template"] = _render_template(rendered["template"], cluster, None)
    return rendered


def render_index_template(
    body: dict[str, Any], cluster: ClusterInfo, policy: str | None
) -> dict[str, Any]:
    rendered = copy.deepcopy(body)
    template = _render_template(rendered.get("template", {}), cluster, policy)
    if template:
        rendered["template"] = template
    return rendered


def namespace_template(
    definitions: Definitions,
    cluster: ClusterInfo,
    prefix: str,
    namespace: str,
    policy: str,
    *,
    base: str = BASE_TEMPLATE,
) -> Desired:
    """The higher-priority template of one namespace whose policy is not the default."""
    body = copy.deepcopy(definitions.index_templates[base])
    body["index_patterns"] = [namespace_pattern(prefix, namespace)]
    body["priority"] = NAMESPACE_TEMPLATE_PRIORITY
    meta = dict(body.get("_meta", {}))
    meta.update(
        managed_by=MANAGED_BY,
        description=f"Daily indices of namespace {namespace}: policy {policy}.",
        namespace=namespace,
        lifecycle_policy=policy,
        derived_from=base,
    )
    body["_meta"] = meta
    rendered = render_index_template(body, cluster, policy)
    return Desired("index_template", f"{prefix}-ns-{namespace}", rendered, body.get("version"))


def _render_template(
    template: dict[str, Any], cluster: ClusterInfo, policy: str | None
) -> dict[str, Any]:
    out = dict(template)
    settings = {
        k: v
        for k, v in flatten_settings(template.get("settings")).items()
        if not k.startswith("index.lifecycle.")
    }
    if cluster.lifecycle == "ilm" and policy is not None:
        settings["index.lifecycle.name"] = policy
        settings["index.lifecycle.parse_origination_date"] = True
    if settings:
        out["settings"] = settings
    else:
        out.pop("settings", None)
    if "mappings" in out:
        out["mappings"] = cluster.mappings(out["mappings"])
    return out


# ISM ----------------------------------------------------------------------------------------


def ism_patterns(
    definitions: Definitions, settings: LifecycleSettings, prefix: str
) -> dict[str, list[tuple[str, int]]]:
    """For each policy, the (index pattern, priority) pairs its `ism_template` claims."""
    claims: dict[str, list[tuple[str, int]]] = {}
    for name, body in definitions.index_templates.items():
        policy = definitions.template_policy(name) or settings.default_policy
        for pattern in body.get("index_patterns", []):
            claims.setdefault(policy, []).append((pattern, int(body.get("priority", 0))))
    rules = list(settings.namespace_policies.items())
    for rank, (glob, policy) in enumerate(rules):
        pattern = namespace_pattern(prefix, glob)
        claims.setdefault(policy, []).append((pattern, NAMESPACE_RULE_PRIORITY - rank))
    return claims


def ism_policy(name: str, ilm: dict[str, Any], patterns: list[tuple[str, int]]) -> dict[str, Any]:
    """The ISM translation of an ILM policy: one state per phase, moved on by `min_index_age`."""
    phases = ilm["policy"]["phases"]
    names = [p for p in PHASES if p in phases]
    states: list[dict[str, Any]] = []
    for i, phase in enumerate(names):
        actions = _ism_actions(phases[phase].get("actions", {}))
        transitions = []
        if i + 1 < len(names):
            following = names[i + 1]
            age = str(phases[following].get("min_age", "0ms"))
            transitions.append({"state_name": following, "conditions": {"min_index_age": age}})
        states.append({"name": phase, "actions": actions, "transitions": transitions})
    version = policy_version(ilm)
    policy: dict[str, Any] = {
        "description": f"{MANAGED_BY}: ilm/{name}.json version {version}, translated to ISM",
        "default_state": names[0],
        "states": states,
    }
    if patterns:
        by_priority: dict[int, list[str]] = {}
        for pattern, priority in patterns:
            by_priority.setdefault(priority, []).append(pattern)
        policy["ism_template"] = [
            {"index_patterns": pats, "priority": prio}
            for prio, pats in sorted(by_priority.items(), reverse=True)
        ]
    return {"policy": policy}


def ism_version(description: str) -> int | None:
    match = _ISM_VERSION.search(description)
    return int(match.group(1)) if match else None


def _ism_actions(actions: dict[str, Any]) -> list[dict[str, Any]]:
    """ILM actions that have an ISM equivalent, in ILM's order; the rest have none and are left
    out (migrate, unfollow, shrink, searchable_snapshot, downsample, wait_for_snapshot, freeze)."""
    out: list[dict[str, Any]] = []
    for action, given in actions.items():
        options = given or {}
        if action == "set_priority":
            out.append({"index_priority": {"priority": options.get("priority", 0)}})
        elif action == "readonly":
            out.append({"read_only": {}})
        elif action == "forcemerge":
            out.append({"force_merge": {"max_num_segments": options.get("max_num_segments", 1)}})
        elif action == "allocate":
            if "number_of_replicas" in options:
                out.append({"replica_count": {"number_of_replicas": options["number_of_replicas"]}})
            rules = {k: options[k] for k in ("require", "include", "exclude") if k in options}
            if rules:
                out.append({"allocation": {**rules, "wait_for": False}})
        elif action == "delete":
            out.append({"delete": {}})
    return out


def unsupported_ism_actions(ilm: dict[str, Any]) -> list[str]:
    known = {"set_priority", "readonly", "forcemerge", "allocate", "delete"}
    return [
        f"{phase}.{action}"
        for phase, spec in ilm["policy"]["phases"].items()
        for action in spec.get("actions", {})
        if action not in known
    ]
