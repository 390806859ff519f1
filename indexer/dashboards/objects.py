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
from typing import Any

from indexer.saved_objects import files
from indexer.saved_objects.files import MANAGED_BY, Role, Source, render

TENANT_MARKER = f"(managed by {MANAGED_BY})"
GLOBAL_TENANT = "global"  # the `securitytenant` header's name for the global tenant
_ROLE_MARKER = re.compile(r"\(managed by log-indexer, version (\d+)\)$")


class DashboardsObjectsError(ValueError):
    """The object files cannot be used (the message names the file)."""


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
    return files.read_sources(directory, _LAYOUT)


def _check(kind: str, body: dict[str, Any], inner: dict[str, Any]) -> list[str]:
    """Dashboards' own rules for one file (the shared ones are in saved_objects/files.py)."""
    if kind == "index_pattern":
        attributes = inner.get("attributes")
        if not inner.get("id") or not isinstance(attributes, dict) or not attributes.get("title"):
            return ["index_pattern needs an id and attributes with a title"]
        if attributes.get("timeFieldName") != "@timestamp":
            return ["index_pattern.attributes.timeFieldName must be @timestamp"]
        if "typeMeta" in attributes:
            return ["attributes.typeMeta is the indexer's (it holds the version)"]
    elif not body.get("name"):
        return [f"a {kind} file needs a name"]
    return []


_LAYOUT = files.Layout(
    kinds={"index_patterns": "index_pattern", "tenants": "tenant", "roles": "role"},
    main_kind="index_pattern",
    placeholders={
        "global": frozenset({"prefix"}),
        "namespace": frozenset({"prefix", "namespace", "tenant"}),
    },
    error=DashboardsObjectsError,
    check=_check,
)


def desired(
    sources: list[Source], prefix: str, namespaces: list[str], *, tenant_per_namespace: bool
) -> Desired:
    """The objects for these namespaces and the global index patterns."""
    tenants: list[Tenant] = []
    patterns: list[IndexPattern] = []
    roles: list[Role] = []
    for placed in files.placements(
        sources,
        _LAYOUT,
        prefix,
        namespaces,
        place_key="tenant",
        global_place=GLOBAL_TENANT,
        place_of=tenant_name if tenant_per_namespace else None,
    ):
        source, values, tenant = placed.source, placed.values, placed.place
        if source.kind == "index_pattern":
            patterns.append(_pattern(source, values, tenant))
        elif source.kind == "tenant":
            body = render(source.body["tenant"], values)
            tenants.append(Tenant(render(source.body["name"], values), body))
        else:
            body = render(source.body["role"], values)
            body["description"] = (
                f"{body.get('description', '')} (managed by {MANAGED_BY}, version "
                f"{source.version})".lstrip()
            )
            roles.append(Role(render(source.body["name"], values), source.version, body))
    return Desired(tenants, patterns, roles)


def _pattern(source: Source, values: dict[str, str], tenant: str) -> IndexPattern:
    spec = render(source.body["index_pattern"], values)
    attributes = {**spec["attributes"], "typeMeta": type_meta(source.version)}
    return IndexPattern(tenant, spec["id"], source.version, attributes)
