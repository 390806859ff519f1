"""Plan: compare each desired object (`render.py`) with the cluster's copy and decide what to
do about it, following the ownership and version rules. Reads the cluster; writes nothing.

Ownership first: every object we put says `_meta.managed_by: log-indexer`. An object of the same
name that says otherwise (or nothing) belongs to someone else, an Elasticsearch built-in say:
its plan is `foreign` (setup refuses to touch it; the preparer refuses its namespace template).

Version rules, for our own objects: missing on the cluster, or an older `version` there: put it.
A higher `version` there: never touched (someone shipped a newer review). The same `version`
with different content: a conflict, replaced only with `overwrite`.

Errors: a refusal of the read (any ClusterError but 404, which means "missing") propagates as
the cluster's own error; the caller decides what it means (setup: 4xx final, 429/5xx retried).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from indexer.admin.render import MANAGED_BY, Desired, ism_version
from indexer.admin.values import flatten_settings
from indexer.cluster import ClusterError, SearchClient

Action = Literal[
    "create", "update", "replace", "unchanged", "newer-on-cluster", "conflict", "foreign"
]


@dataclass(frozen=True)
class PlannedRequest:
    method: str
    path: str
    body: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        target = f"{self.path}?{query}" if query else self.path
        return f"{self.method} {target}\n{json.dumps(self.body, indent=2, sort_keys=True)}"


@dataclass(frozen=True)
class ObjectPlan:
    """What setup does about one object, and why: the cluster's copy against the file's."""

    kind: str
    name: str
    action: Action
    cluster_version: int | None
    file_version: int | None
    differences: tuple[str, ...] = ()
    request: PlannedRequest | None = None
    owner: str = MANAGED_BY

    def __str__(self) -> str:
        versions = f"file v{self.file_version}, cluster v{self.cluster_version}"
        if self.action == "foreign":
            versions += f", owned by {self.owner}"
        return f"{self.action:<17} {self.kind} {self.name} ({versions})"


def plan_one(client: SearchClient, desired: Desired, *, overwrite: bool) -> ObjectPlan:
    """Compare one object with the cluster's copy and decide what to do about it. Raises the
    cluster's ClusterError (404 aside) and ClusterUnavailable as they are."""
    current = fetch(client, desired)
    if current is None:
        return ObjectPlan(
            desired.kind, desired.name, "create", None, desired.version, (), _put(desired, None)
        )
    theirs, version, concurrency = current
    owner = owner_of(desired.kind, theirs)
    if owner != MANAGED_BY:
        return ObjectPlan(
            desired.kind, desired.name, "foreign", version, desired.version, owner=owner
        )
    differences = tuple(compare(normalize(desired.kind, desired.body), theirs))
    if version is not None and (desired.version is None or version > desired.version):
        return ObjectPlan(
            desired.kind, desired.name, "newer-on-cluster", version, desired.version, differences
        )
    if not differences:
        return ObjectPlan(desired.kind, desired.name, "unchanged", version, desired.version)
    if version is None or desired.version is None or version < desired.version:
        action: Action = "update"
    elif overwrite:
        action = "replace"
    else:
        return ObjectPlan(
            desired.kind, desired.name, "conflict", version, desired.version, differences
        )
    return ObjectPlan(
        desired.kind,
        desired.name,
        action,
        version,
        desired.version,
        differences,
        _put(desired, concurrency),
    )


def owner_of(kind: str, normalized: dict[str, Any]) -> str:
    """Who an object on the cluster belongs to, from its `_meta` (ISM: its description)."""
    if kind == "ism_policy":
        description = str(normalized.get("description") or "")
        return MANAGED_BY if description.startswith(MANAGED_BY + ":") else "someone else"
    meta = normalized.get("_meta") or {}
    if not isinstance(meta, dict):
        return "someone else"
    if meta.get("managed_by") is not None:
        return str(meta["managed_by"])
    if meta.get("managed") is True:
        return "Elasticsearch (_meta.managed: true, a built-in)"
    return "someone else (no _meta.managed_by)"


def fetch(
    client: SearchClient, desired: Desired
) -> tuple[dict[str, Any], int | None, dict[str, Any] | None] | None:
    """The cluster's copy, normalized, with its version (and ISM's concurrency parameters)."""
    try:
        answer = client.request("GET", desired.path)
    except ClusterError as exc:
        if exc.status == 404:
            return None
        raise
    if desired.kind in ("component_template", "index_template"):
        key = desired.kind + "s"
        found = [t for t in answer.get(key, []) if t["name"] == desired.name]
        if not found:
            return None
        body = found[0][desired.kind]
        return normalize(desired.kind, body), _int(body.get("version")), None
    if desired.kind == "ilm_policy":
        entry = answer.get(desired.name)
        if entry is None:
            return None
        policy = {"policy": entry.get("policy", {})}
        version = _int(policy["policy"].get("_meta", {}).get("version"))
        return normalize(desired.kind, policy), version, None
    policy = answer.get("policy", {})
    concurrency = {
        "if_seq_no": answer.get("_seq_no"),
        "if_primary_term": answer.get("_primary_term"),
    }
    version = ism_version(str(policy.get("description", "")))
    return normalize(desired.kind, {"policy": policy}), version, concurrency


def normalize(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    """The parts of an object that matter, in one shape whether read from a file or a cluster."""
    if kind == "component_template":
        return {
            "version": body.get("version"),
            "_meta": body.get("_meta"),
            "template": _template(body.get("template", {})),
        }
    if kind == "index_template":
        return {
            "version": body.get("version"),
            "_meta": body.get("_meta"),
            "index_patterns": list(body.get("index_patterns", [])),
            "priority": body.get("priority", 0),
            "composed_of": list(body.get("composed_of", [])),
            "template": _template(body.get("template", {})),
        }
    if kind == "ilm_policy":
        policy = body.get("policy", {})
        phases = {}
        for name, phase in policy.get("phases", {}).items():
            actions = dict(phase.get("actions", {}))
            if actions.get("delete") == {"delete_searchable_snapshot": True}:
                actions["delete"] = {}
            phases[name] = {"min_age": phase.get("min_age", "0ms"), "actions": actions}
        return {"_meta": policy.get("_meta"), "phases": phases}
    policy = body.get("policy", {})
    states = [
        {
            "name": s.get("name"),
            "actions": [{k: v for k, v in a.items() if k != "retry"} for a in s.get("actions", [])],
            "transitions": s.get("transitions", []),
        }
        for s in policy.get("states", [])
    ]
    templates = [
        {"index_patterns": t.get("index_patterns"), "priority": t.get("priority", 0)}
        for t in policy.get("ism_template") or []
    ]
    return {
        "description": policy.get("description"),
        "default_state": policy.get("default_state"),
        "states": states,
        "ism_template": templates,
    }


def compare(ours: Any, theirs: Any, path: str = "$") -> list[str]:
    """Differences as `path: file=… cluster=…` lines (values compared as strings at the leaves,
    because clusters hand settings back as strings)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(ours) | set(theirs)):
            out += compare(ours.get(key), theirs.get(key), f"{path}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        out = []
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            out += compare(a, b, f"{path}[{i}]")
        return out
    if _leaf(ours) == _leaf(theirs):
        return []
    return [f"{path}: file={json.dumps(ours)} cluster={json.dumps(theirs)}"]


def _leaf(value: Any) -> Any:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return value


def _template(template: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    settings = flatten_settings(template.get("settings"))
    if settings:
        out["settings"] = settings
    if template.get("mappings"):
        out["mappings"] = _mappings(template["mappings"])
    if template.get("aliases"):
        out["aliases"] = template["aliases"]
    return out


def _mappings(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {k: _mappings(v) for k, v in node.items()}
        if "properties" in cleaned and cleaned.get("type") == "object":
            del cleaned["type"]
        return cleaned
    if isinstance(node, list):
        return [_mappings(v) for v in node]
    return node


def _put(desired: Desired, concurrency: dict[str, Any] | None) -> PlannedRequest:
    params = {k: v for k, v in (concurrency or {}).items() if v is not None}
    return PlannedRequest("PUT", desired.path, desired.body, params)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
