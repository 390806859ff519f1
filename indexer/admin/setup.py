"""Apply the definitions to a cluster, idempotently, and tell what differs.

Ownership first: every object we put says `_meta.managed_by: log-indexer`. An object of the same
name that says otherwise (or nothing) belongs to someone else, an Elasticsearch built-in say, and
setup refuses to touch it or to call it "newer on cluster": it fails, naming the object and its
owner, before sending anything.

Version rules, for our own objects: missing on the cluster, or an older `version` there: put it.
A higher `version` there: never touched (someone shipped a newer review). The same `version`
with different content: reported as a conflict and replaced only with `overwrite`.

The order is: load the definitions, detect the cluster, render, plan every object, refuse
foreign ones, apply, then check (`preflight`) that our templates are the ones the cluster would
apply to the first index of each kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from indexer.admin.definitions import Definitions, flatten_settings, load_definitions
from indexer.admin.errors import SetupError
from indexer.admin.preflight import preflight
from indexer.admin.render import (
    BASE_TEMPLATE,
    MANAGED_BY,
    Desired,
    desired_objects,
    ism_version,
    unsupported_ism_actions,
)
from indexer.cluster import ClusterError, ClusterInfo, SearchClient, detect
from indexer.settings import Settings

Action = Literal[
    "create", "update", "replace", "unchanged", "newer-on-cluster", "conflict", "foreign"
]

log = structlog.get_logger()


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
class Outcome:
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


@dataclass
class SetupReport:
    cluster: ClusterInfo
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action == "conflict"]

    @property
    def requests(self) -> list[PlannedRequest]:
        return [o.request for o in self.outcomes if o.request is not None]

    def lines(self) -> list[str]:
        head = f"cluster: {self.cluster.distribution} {self.cluster.version}"
        out = [f"{head}, lifecycle: {self.cluster.lifecycle}"]
        out += [str(o) for o in self.outcomes]
        out += [f"preflight: {c}" for c in self.checks]
        out += [f"note: {n}" for n in self.notes]
        return out


def run_setup(
    client: SearchClient, settings: Settings, *, dry_run: bool = False, overwrite: bool = False
) -> SetupReport:
    """Put what the files define (rendered for this cluster), following the ownership and
    version rules, then run the pre-flight check.

    Raises SetupError for broken files or unknown policy names, for an object of ours whose name
    someone else owns on the cluster, for a 4xx refusal of a put (the message names the object),
    and when the pre-flight finds that a template not ours would shape our indices.
    ClusterUnavailable and ClusterErrors 429/5xx propagate (the caller retries). With `dry_run`,
    nothing is written: the report's `requests` are what would have been sent.
    """
    definitions = load_checked_definitions(settings)
    cluster = detect(client, settings.lifecycle)
    report = SetupReport(cluster, dry_run)
    if cluster.lifecycle == "ism":
        for name, body in definitions.policies.items():
            missing = unsupported_ism_actions(body)
            if missing:
                report.notes.append(f"ISM has no equivalent for {name}: {', '.join(missing)}")
    desired = desired_objects(definitions, cluster, settings.lifecycle, _prefix(settings))
    planned = [(d, plan_one(client, d, overwrite=overwrite)) for d in desired]
    report.outcomes = [outcome for _, outcome in planned]
    foreign = [o for o in report.outcomes if o.action == "foreign"]
    if foreign:
        raise SetupError(
            "; ".join(
                f"{o.kind} {o.name} exists on the cluster and belongs to {o.owner}, not to "
                f"{MANAGED_BY}: refusing to touch it (rename ours or remove theirs)"
                for o in foreign
            )
        )
    for one, outcome in planned:
        if outcome.request is not None and not dry_run:
            _send(client, one, outcome.request)
        log.info(
            "setup_object", kind=one.kind, name=one.name, action=outcome.action, dry_run=dry_run
        )
    # The cluster can simulate what it holds: after applying, or when nothing would change.
    in_place = not dry_run or all(o.action == "unchanged" for o in report.outcomes)
    report.checks = preflight(
        client, settings, [d for d in desired if d.kind == "index_template"], applied=in_place
    )
    for conflict in report.conflicts:
        report.notes.append(
            f"{conflict.kind} {conflict.name}: same version {conflict.file_version} differs on the "
            f"cluster ({'; '.join(conflict.differences[:5])}); use --overwrite to replace it"
        )
    return report


def diff(client: SearchClient, settings: Settings) -> SetupReport:
    """What differs between the files and the cluster (a dry run that records differences)."""
    return run_setup(client, settings, dry_run=True, overwrite=False)


def plan_one(client: SearchClient, desired: Desired, *, overwrite: bool) -> Outcome:
    """Compare one object with the cluster's copy and decide what to do about it."""
    current = fetch(client, desired)
    if current is None:
        return Outcome(
            desired.kind, desired.name, "create", None, desired.version, (), _put(desired, None)
        )
    theirs, version, concurrency = current
    owner = owner_of(desired.kind, theirs)
    if owner != MANAGED_BY:
        return Outcome(desired.kind, desired.name, "foreign", version, desired.version, owner=owner)
    differences = tuple(compare(normalize(desired.kind, desired.body), theirs))
    if version is not None and (desired.version is None or version > desired.version):
        return Outcome(
            desired.kind, desired.name, "newer-on-cluster", version, desired.version, differences
        )
    if not differences:
        return Outcome(desired.kind, desired.name, "unchanged", version, desired.version)
    if version is None or desired.version is None or version < desired.version:
        action: Action = "update"
    elif overwrite:
        action = "replace"
    else:
        return Outcome(
            desired.kind, desired.name, "conflict", version, desired.version, differences
        )
    return Outcome(
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
        raise _refusal(exc, f"reading {desired.kind} {desired.name}") from exc
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


def _send(client: SearchClient, desired: Desired, planned: PlannedRequest) -> None:
    try:
        client.request(planned.method, planned.path, planned.body, planned.params or None)
    except ClusterError as exc:
        raise _refusal(exc, f"{desired.kind} {desired.name}") from exc


def _refusal(exc: ClusterError, what: str) -> Exception:
    """429 and 5xx stay the cluster's own (the caller retries); other refusals are final."""
    if exc.status == 429 or exc.status >= 500:
        return exc
    return SetupError(f"the cluster refused {what} ({exc.status} {exc.error_type}): {exc.reason}")


def load_checked_definitions(settings: Settings) -> Definitions:
    """The files, validated, checked against the policy names the settings use."""
    from indexer.admin.definitions import DefinitionError, read_sources
    from indexer.admin.validate import routing_conflicts

    lifecycle = settings.lifecycle
    try:
        definitions = load_definitions(lifecycle.templates_dir, lifecycle.policies_dir)
    except DefinitionError as exc:
        raise SetupError(str(exc)) from None
    sources, _ = read_sources(lifecycle.templates_dir, lifecycle.policies_dir)
    conflicts = routing_conflicts(sources, settings.routing.max_past)
    if conflicts and lifecycle.mode != "off":
        raise SetupError("; ".join(str(p) for p in conflicts))
    named = {lifecycle.default_policy, *lifecycle.namespace_policies.values()}
    missing = sorted(named - set(definitions.policies))
    if missing and lifecycle.mode != "off":
        raise SetupError(
            f"settings name policies with no file in {lifecycle.policies_dir}: {missing}"
        )
    if BASE_TEMPLATE not in definitions.index_templates:
        raise SetupError(
            f"{lifecycle.templates_dir}/index/{BASE_TEMPLATE}.json is required (the base)"
        )
    return definitions


def _prefix(settings: Settings) -> str:
    return settings.routing.index_prefix


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
