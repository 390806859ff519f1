"""The reviewed Kibana object files, read and rendered for a prefix and a namespace.

Layout (the repository's `kibana/` is the packaged `indexer/admin/kibana/`):

    data_views/<name>.json   {"version", "scope", "_meta", "data_view": spec}
    spaces/namespace.json    {"version", "scope", "_meta", "space": body}
    roles/namespace.json     {"version", "scope", "_meta", "name", "role": body}

`scope` is `global` (made once, in the default space) or `namespace` (made for each namespace;
`{namespace}` and `{space}` are substituted). `{prefix}` is the routing prefix everywhere.

Where the version lives in Kibana: a data view has no free-form metadata, so ours carry
`typeMeta: {"managed_by": "log-indexer", "version": N}`. The data views API keeps `typeMeta`
as an open object (`typeMeta: schema.object({}, {unknowns: 'allow'})`, elastic/kibana
src/platform/plugins/shared/data_views/server/rest_api_routes/schema.ts), lets an update set it
(public/update_data_view.ts) and returns it in `GET /api/data_views` (`getIdsWithTitle` in
common/data_views/data_views.ts), so one listing per space tells ours, their version, and
everyone else's apart. Kibana itself reads only `typeMeta.aggs` and `.params` (rollup data
views). A role carries it in `metadata` (keys without `_` are free: security plugin
routes/authorization/roles/model/put_payload.ts). A space has neither: ours are recognised by
the description's "(managed by log-indexer)" and are never updated.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MANAGED_BY = "log-indexer"
SPACE_MARKER = f"(managed by {MANAGED_BY})"
DEFAULT_SPACE = "default"

Scope = Literal["global", "namespace"]
_PLACEHOLDER = re.compile(r"\{([a-z]+)\}")
_KNOWN = {"global": {"prefix"}, "namespace": {"prefix", "namespace", "space"}}


class KibanaObjectsError(ValueError):
    """The Kibana object files cannot be used (the message names the file)."""


@dataclass(frozen=True)
class Source:
    kind: Literal["data_view", "space", "role"]
    name: str
    path: Path
    version: int
    scope: Scope
    body: dict[str, Any]


@dataclass(frozen=True)
class DataView:
    space: str
    id: str
    version: int
    spec: dict[str, Any]  # the `data_view` body of the create request, typeMeta included

    @property
    def title(self) -> str:
        return str(self.spec["title"])

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or self.spec["title"])


@dataclass(frozen=True)
class Space:
    id: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Role:
    name: str
    version: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Desired:
    """What one setup wants in Kibana, in the order it is applied (spaces before their
    data views and roles)."""

    spaces: list[Space]
    data_views: list[DataView]
    roles: list[Role]


def space_id(prefix: str, namespace: str) -> str:
    """The namespace's space: `<prefix>-<namespace>` (space ids allow a-z, 0-9, `_`, `-`:
    SPACE_ID_REGEX in x-pack/platform/plugins/shared/spaces/server/lib/space_schema.ts)."""
    return f"{prefix}-{namespace}".replace(".", "-")


def read_sources(directory: Path) -> list[Source]:
    """Every object file, checked; KibanaObjectsError naming the file otherwise."""
    sources: list[Source] = []
    kinds = {"data_views": "data_view", "spaces": "space", "roles": "role"}
    if not directory.is_dir():
        raise KibanaObjectsError(f"{directory}: not a directory")
    for sub, kind in kinds.items():
        for path in sorted((directory / sub).glob("*.json")):
            sources.append(_source(kind, path))
    if not any(s.kind == "data_view" for s in sources):
        raise KibanaObjectsError(f"{directory}/data_views: no data view files")
    return sources


def _source(kind: str, path: Path) -> Source:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KibanaObjectsError(f"{path}: cannot read: {exc}") from None
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
    elif kind == "data_view":
        if inner.get("timeFieldName") != "@timestamp":
            problems.append("data_view.timeFieldName must be @timestamp")
        if not inner.get("id") or not inner.get("title"):
            problems.append("data_view needs an id and a title")
        if "typeMeta" in inner:
            problems.append("data_view.typeMeta is the indexer's (it holds the version)")
    elif kind == "role" and not body.get("name"):
        problems.append("a role file needs a name")
    if kind != "data_view" and scope != "namespace":
        problems.append(f"a {kind} exists per namespace: scope must be namespace")
    used = set(_PLACEHOLDER.findall(json.dumps(body)))
    unknown = used - _KNOWN.get(str(scope), set())
    if unknown:
        problems.append(f"unknown placeholders {sorted(unknown)} for scope {scope}")
    if problems:
        raise KibanaObjectsError(f"{path}: " + "; ".join(problems))
    return Source(kind, path.stem, path, version, scope, body)  # type: ignore[arg-type]


def desired(
    sources: list[Source],
    prefix: str,
    namespaces: list[str],
    *,
    space_per_namespace: bool,
    include_global: bool = True,
) -> Desired:
    """The objects for these namespaces (and, with `include_global`, the global data views)."""
    spaces: list[Space] = []
    views: list[DataView] = []
    roles: list[Role] = []
    if include_global:
        for source in sources:
            if source.kind == "data_view" and source.scope == "global":
                views.append(_data_view(source, {"prefix": prefix}, DEFAULT_SPACE))
    for namespace in namespaces:
        space = space_id(prefix, namespace) if space_per_namespace else DEFAULT_SPACE
        values = {"prefix": prefix, "namespace": namespace, "space": space}
        for source in sources:
            if source.scope != "namespace":
                continue
            if source.kind == "data_view":
                views.append(_data_view(source, values, space))
            elif not space_per_namespace:
                continue
            elif source.kind == "space":
                spaces.append(Space(space, _render(source.body["space"], values)))
            else:
                body = _render(source.body["role"], values)
                body["metadata"] = {
                    **body.get("metadata", {}),
                    "managed_by": MANAGED_BY,
                    "version": source.version,
                }
                roles.append(Role(_render(source.body["name"], values), source.version, body))
    return Desired(spaces, views, roles)


def _data_view(source: Source, values: dict[str, str], space: str) -> DataView:
    spec = _render(source.body["data_view"], values)
    spec["typeMeta"] = {"managed_by": MANAGED_BY, "version": source.version}
    return DataView(space, spec["id"], source.version, spec)


def _render(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [_render(item, values) for item in value]
    if isinstance(value, dict):
        return {_render(k, values): _render(v, values) for k, v in value.items()}
    return value
