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

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.saved_objects import files
from indexer.saved_objects.files import MANAGED_BY, Role, Source, render

SPACE_MARKER = f"(managed by {MANAGED_BY})"
DEFAULT_SPACE = "default"


class KibanaObjectsError(ValueError):
    """The Kibana object files cannot be used (the message names the file)."""


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
    return files.read_sources(directory, _LAYOUT)


def _check(kind: str, body: dict[str, Any], inner: dict[str, Any]) -> list[str]:
    """Kibana's own rules for one file (the shared ones are in saved_objects/files.py)."""
    problems = []
    if kind == "data_view":
        if inner.get("timeFieldName") != "@timestamp":
            problems.append("data_view.timeFieldName must be @timestamp")
        if not inner.get("id") or not inner.get("title"):
            problems.append("data_view needs an id and a title")
        if "typeMeta" in inner:
            problems.append("data_view.typeMeta is the indexer's (it holds the version)")
    elif kind == "role" and not body.get("name"):
        problems.append("a role file needs a name")
    return problems


_LAYOUT = files.Layout(
    kinds={"data_views": "data_view", "spaces": "space", "roles": "role"},
    main_kind="data_view",
    placeholders={
        "global": frozenset({"prefix"}),
        "namespace": frozenset({"prefix", "namespace", "space"}),
    },
    error=KibanaObjectsError,
    check=_check,
)


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
    for placed in files.placements(
        sources,
        _LAYOUT,
        prefix,
        namespaces,
        place_key="space",
        global_place=DEFAULT_SPACE,
        place_of=space_id if space_per_namespace else None,
        include_global=include_global,
    ):
        source, values, space = placed.source, placed.values, placed.place
        if source.kind == "data_view":
            views.append(_data_view(source, values, space))
        elif source.kind == "space":
            spaces.append(Space(space, render(source.body["space"], values)))
        else:
            body = render(source.body["role"], values)
            body["metadata"] = {
                **body.get("metadata", {}),
                "managed_by": MANAGED_BY,
                "version": source.version,
            }
            roles.append(Role(render(source.body["name"], values), source.version, body))
    return Desired(spaces, views, roles)


def _data_view(source: Source, values: dict[str, str], space: str) -> DataView:
    spec = render(source.body["data_view"], values)
    spec["typeMeta"] = {"managed_by": MANAGED_BY, "version": source.version}
    return DataView(space, spec["id"], source.version, spec)
