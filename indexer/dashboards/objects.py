"""The reviewed OpenSearch Dashboards object files, read and rendered for a prefix and namespaces.

Layout (the repository's `dashboards/` is the packaged `indexer/admin/dashboards/`), as
kibana/'s:

    index_patterns/<name>.json  {"version", "scope", "_meta", "index_pattern": {id, attributes}}
    tenants/namespace.json      {"version", "scope", "_meta", "name", "tenant": body}
    roles/namespace.json        {"version", "scope", "_meta", "name", "role": body}

`scope` is `global` (in the global tenant) or `namespace` (one per namespace; `{namespace}` and
`{tenant}` substituted). `{prefix}` is the routing prefix everywhere.

Where the version lives: an index pattern is a saved object whose attributes are not validated
(the saved objects API: "attributes are not validated at creation time"); ours carry
`typeMeta`, a JSON string as the index-pattern type stores it, `{"managed_by": "log-indexer",
"version": N}`. A tenant and a role of the security plugin have a `description` only: ours end
with `(managed by log-indexer)` and, for a role, `(managed by log-indexer, version N)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MANAGED_BY = "log-indexer"
TENANT_MARKER = f"(managed by {MANAGED_BY})"
GLOBAL_TENANT = "global"  # the `securitytenant` header's name for the global tenant
_ROLE_MARKER = re.compile(r"\(managed by log-indexer, version (\d+)\)$")
_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")
_KNOWN = {"global": {"prefix"}, "namespace": {"prefix", "namespace", "tenant"}}
_KINDS = {"index_patterns": "index_pattern", "tenants": "tenant", "roles": "role"}

Scope = Literal["global", "namespace"]


class DashboardsObjectsError(ValueError):
    """The object files cannot be used (the message names the file)."""


@dataclass(frozen=True)
class Source:
    kind: str
    name: str
    path: Path
    version: int
    scope: Scope
    body: dict[str, Any]


@dataclass(frozen=True)
class IndexPattern:
    tenant: str
    id: str
    version: int
    attributes: dict[str, Any]  # typeMeta included

    @property
    def title(self) -> str:
        return str(self.attributes["title"])


@dataclass(frozen=True)
class Tenant:
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Role:
    name: str
    version: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Desired:
    """What one setup wants, in the order it is applied (tenants before their patterns)."""

    tenants: list[Tenant]
    index_patterns: list[IndexPattern]
    roles: list[Role]


def tenant_name(prefix: str, namespace: str) -> str:
    return f"{prefix}-{namespace}"


def type_meta(version: int) -> str:
    return json.dumps({"managed_by": MANAGED_BY, "version": version}, sort_keys=True)


def pattern_version(attributes: dict[str, Any]) -> int | None:
    """The version of one of our index patterns, or None for one that is not ours."""
    try:
        meta = json.loads(attributes.get("typeMeta") or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("managed_by") != MANAGED_BY:
        return None
    version = meta.get("version")
    return version if type(version) is int else 0


def role_version(description: str) -> int | None:
    found = _ROLE_MARKER.search(description)
    return None if found is None else int(found.group(1))


def read_sources(directory: Path) -> list[Source]:
    """Every object file, checked; DashboardsObjectsError naming the file otherwise."""
    if not directory.is_dir():
        raise DashboardsObjectsError(f"{directory}: not a directory")
    sources = [
        _source(kind, path)
        for sub, kind in _KINDS.items()
        for path in sorted((directory / sub).glob("*.json"))
    ]
    if not any(s.kind == "index_pattern" for s in sources):
        raise DashboardsObjectsError(f"{directory}/index_patterns: no index pattern files")
    return sources


def _source(kind: str, path: Path) -> Source:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DashboardsObjectsError(f"{path}: cannot read: {exc}") from None
    problems = []
    version, scope = body.get("version"), body.get("scope")
    if type(version) is not int or version < 1:
        problems.append("version must be a positive integer")
    if scope not in _KNOWN:
        problems.append("scope must be global or namespace")
    if body.get("_meta", {}).get("managed_by") != MANAGED_BY:
        problems.append(f"_meta.managed_by must be {MANAGED_BY!r}")
    inner = body.get(kind)
    if not isinstance(inner, dict):
        problems.append(f"needs a {kind!r} object")
    elif kind == "index_pattern":
        attributes = inner.get("attributes")
        if not inner.get("id") or not isinstance(attributes, dict) or not attributes.get("title"):
            problems.append("index_pattern needs an id and attributes with a title")
        elif attributes.get("timeFieldName") != "@timestamp":
            problems.append("index_pattern.attributes.timeFieldName must be @timestamp")
        elif "typeMeta" in attributes:
            problems.append("attributes.typeMeta is the indexer's (it holds the version)")
    elif not body.get("name"):
        problems.append(f"a {kind} file needs a name")
    if kind != "index_pattern" and scope != "namespace":
        problems.append(f"a {kind} exists per namespace: scope must be namespace")
    unknown = set(_PLACEHOLDER.findall(json.dumps(body))) - _KNOWN.get(str(scope), set())
    if unknown:
        problems.append(f"unknown placeholders {sorted(unknown)} for scope {scope}")
    if problems:
        raise DashboardsObjectsError(f"{path}: " + "; ".join(problems))
    return Source(kind, path.stem, path, version, scope, body)


def desired(
    sources: list[Source], prefix: str, namespaces: list[str], *, tenant_per_namespace: bool
) -> Desired:
    """The objects for these namespaces and the global index patterns."""
    tenants: list[Tenant] = []
    patterns: list[IndexPattern] = []
    roles: list[Role] = []
    for source in sources:
        if source.kind == "index_pattern" and source.scope == "global":
            patterns.append(_pattern(source, {"prefix": prefix}, GLOBAL_TENANT))
    for namespace in namespaces:
        tenant = tenant_name(prefix, namespace) if tenant_per_namespace else GLOBAL_TENANT
        values = {"prefix": prefix, "namespace": namespace, "tenant": tenant}
        for source in sources:
            if source.scope != "namespace":
                continue
            if source.kind == "index_pattern":
                patterns.append(_pattern(source, values, tenant))
            elif not tenant_per_namespace:
                continue
            elif source.kind == "tenant":
                body = _render(source.body["tenant"], values)
                tenants.append(Tenant(_render(source.body["name"], values), body))
            else:
                body = _render(source.body["role"], values)
                body["description"] = (
                    f"{body.get('description', '')} (managed by {MANAGED_BY}, version "
                    f"{source.version})".lstrip()
                )
                roles.append(Role(_render(source.body["name"], values), source.version, body))
    return Desired(tenants, patterns, roles)


def _pattern(source: Source, values: dict[str, str], tenant: str) -> IndexPattern:
    spec = _render(source.body["index_pattern"], values)
    attributes = {**spec["attributes"], "typeMeta": type_meta(source.version)}
    return IndexPattern(tenant, spec["id"], source.version, attributes)


def _render(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [_render(item, values) for item in value]
    if isinstance(value, dict):
        return {_render(k, values): _render(v, values) for k, v in value.items()}
    return value
