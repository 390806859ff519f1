"""Make Kibana hold the desired objects: read what is there, then write only what differs.

For each object, the rules are those of the templates (docs/templates.md):

- missing: created;
- ours (the `log-indexer` marker) with an older version: updated; the same or a newer version:
  left as it is (a newer one belongs to a newer indexer);
- not ours (no marker, or another data view already has our title or name): left alone, and
  the outcome says so. A space that is not ours gets neither our data view nor our role.

A second run therefore sends no POST or PUT. A dry run sends nothing at all: it lists the writes
an empty Kibana would get.

The answers relied on (elastic/kibana; the recording server in tests/kibana_server.py answers
the same way):

- `GET [/s/<space>]/api/data_views` → 200 `{"data_view": [{"id", "namespaces", "title",
  "typeMeta"?, "name"?}]}` (data_views/server/rest_api_routes/public/get_data_views.ts).
- `POST [/s/<space>]/api/data_views/data_view` `{"data_view": spec}` → 200 `{"data_view":
  {...}}`; a data view of the same name → 400 `Duplicate data view: <name>`; an existing id →
  400 (`handleErrors` answers every error but a 404 with 400; public/util/handle_errors.ts).
- `POST [/s/<space>]/api/data_views/data_view/<id>` `{"data_view": changes}` → 200; no such
  id → 404 `Saved object [index-pattern/<id>] not found` (public/update_data_view.ts; the update
  schema has no `id`).
- `GET /api/spaces/space/<id>` → 200 space or 404; `POST /api/spaces/space` → 200, or 409 `A
  space with the identifier <id> already exists.` (spaces/server/routes/api/external/get.ts,
  post.ts).
- `GET /api/security/role/<name>` → 200 role or 404; `PUT /api/security/role/<name>` → 204,
  with `?createOnly=true` 409 `Role already exists and cannot be created: <name>`
  (security/server/routes/authorization/roles/get.ts, put.ts). One such request sets both the
  Elasticsearch index privileges and the Kibana space privileges of the role.
"""

from __future__ import annotations

from typing import Any

from indexer.kibana.client import KibanaClient, KibanaError, space_path
from indexer.kibana.objects import SPACE_MARKER, DataView, Desired, Space
from indexer.saved_objects.files import MANAGED_BY, Role
from indexer.saved_objects.report import Outcome, Report, Request

# What the update route accepts (indexPatternUpdateSchema, public/update_data_view.ts).
_UPDATABLE = (
    "title",
    "type",
    "typeMeta",
    "timeFieldName",
    "sourceFilters",
    "fieldFormats",
    "fields",
    "allowNoIndex",
    "runtimeFieldMap",
    "name",
)


def apply(client: KibanaClient | None, wanted: Desired, *, dry_run: bool = False) -> Report:
    """Create or update `wanted` in Kibana (see the module doc). With `dry_run`, `client` is not
    used (it may be None) and the report lists every write an empty Kibana would get."""
    report = Report()
    if dry_run or client is None:
        return _plan_empty(wanted, report)
    foreign_spaces = {s.id for s in wanted.spaces if not _space(client, s, report)}
    by_space: dict[str, list[DataView]] = {}
    for view in wanted.data_views:
        by_space.setdefault(view.space, []).append(view)
    for space, views in by_space.items():
        if space in foreign_spaces:
            for view in views:
                report.outcomes.append(Outcome("data view", view.id, "skipped", _NOT_OURS_SPACE))
            continue
        listed = client.request("GET", space_path(space, "/api/data_views")).body
        existing = listed.get("data_view", []) if isinstance(listed, dict) else []
        for view in views:
            _data_view(client, view, existing, report)
    for role in wanted.roles:
        spaces = {s for p in role.body.get("kibana", []) for s in p.get("spaces", [])}
        if spaces & foreign_spaces:
            report.outcomes.append(Outcome("role", role.name, "skipped", _NOT_OURS_SPACE))
            continue
        _role(client, role, report)
    return report


_NOT_OURS_SPACE = "its space exists and is not managed by log-indexer"


def _plan_empty(wanted: Desired, report: Report) -> Report:
    for space in wanted.spaces:
        report.requests.append(Request("POST", "/api/spaces/space", space.body))
        report.outcomes.append(Outcome("space", space.id, "would create"))
    for view in wanted.data_views:
        path = space_path(view.space, "/api/data_views/data_view")
        report.requests.append(Request("POST", path, {"data_view": view.spec}))
        report.outcomes.append(Outcome("data view", view.id, "would create", _where(view)))
    for role in wanted.roles:
        path = f"/api/security/role/{role.name}?createOnly=true"
        report.requests.append(Request("PUT", path, role.body))
        report.outcomes.append(Outcome("role", role.name, "would create"))
    return report


def _where(view: DataView) -> str:
    return f"{view.title} in space {view.space}"


def _space(client: KibanaClient, space: Space, report: Report) -> bool:
    """Make sure the space exists; False when one of that id exists and is not ours."""
    found = client.request("GET", f"/api/spaces/space/{space.id}", expect=(200, 404))
    if found.status == 200:
        description = str((found.body or {}).get("description") or "")
        ours = description.endswith(SPACE_MARKER)
        action, detail = ("unchanged", "") if ours else ("foreign", "not managed by log-indexer")
        report.outcomes.append(Outcome("space", space.id, action, detail))
        return ours
    request = Request("POST", "/api/spaces/space", space.body)
    answer = client.request(request.method, request.path, request.body, expect=(200, 409))
    report.requests.append(request)
    action = "created" if answer.status == 200 else "unchanged"
    detail = "" if answer.status == 200 else "created meanwhile by another replica"
    report.outcomes.append(Outcome("space", space.id, action, detail))
    return True


def _data_view(
    client: KibanaClient, view: DataView, existing: list[dict[str, Any]], report: Report
) -> None:
    mine = next((item for item in existing if item.get("id") == view.id), None)
    if mine is not None:
        meta = mine.get("typeMeta") or {}
        if not isinstance(meta, dict) or meta.get("managed_by") != MANAGED_BY:
            detail = f"id {view.id} in space {view.space} is not managed by log-indexer"
            report.outcomes.append(Outcome("data view", view.id, "foreign", detail))
            return
        found = _version(meta)
        if found >= view.version:
            action = "unchanged" if found == view.version else "newer"
            detail = f"v{found} in space {view.space}"
            report.outcomes.append(Outcome("data view", view.id, action, detail))
            return
        changes = {k: v for k, v in view.spec.items() if k in _UPDATABLE}
        path = space_path(view.space, f"/api/data_views/data_view/{view.id}")
        request = Request("POST", path, {"data_view": changes})
        client.request(request.method, request.path, request.body)
        report.requests.append(request)
        detail = f"v{found} -> v{view.version} in space {view.space}"
        report.outcomes.append(Outcome("data view", view.id, "updated", detail))
        return
    for item in existing:
        for key, value in (("title", view.title), ("name", view.name)):
            if item.get(key) == value:
                detail = (
                    f"data view {item.get('id')} in space {view.space} has the {key} {value!r} "
                    "and is not managed by log-indexer"
                )
                report.outcomes.append(Outcome("data view", view.id, "foreign", detail))
                return
    path = space_path(view.space, "/api/data_views/data_view")
    request = Request("POST", path, {"data_view": view.spec})
    try:
        client.request(request.method, request.path, request.body)
    except KibanaError as exc:
        if exc.status != 400:
            raise
        # A duplicate name or id answers 400: another replica may have just made ours, or the
        # id is taken in another space (a data view lives in one space only).
        report.requests.append(request)
        listed = client.request("GET", space_path(view.space, "/api/data_views")).body
        if any(item.get("id") == view.id for item in (listed or {}).get("data_view", [])):
            detail = "created meanwhile by another replica"
            report.outcomes.append(Outcome("data view", view.id, "unchanged", detail))
            return
        detail = f"Kibana refused it in space {view.space}: {exc}"
        report.outcomes.append(Outcome("data view", view.id, "foreign", detail))
        return
    report.requests.append(request)
    report.outcomes.append(Outcome("data view", view.id, "created", _where(view)))


def _role(client: KibanaClient, role: Role, report: Report) -> None:
    path = f"/api/security/role/{role.name}"
    found = client.request("GET", path, expect=(200, 404))
    if found.status == 404:
        request = Request("PUT", path + "?createOnly=true", role.body)
        answer = client.request(request.method, request.path, request.body, expect=(204, 409))
        report.requests.append(request)
        action = "created" if answer.status == 204 else "unchanged"
        detail = "" if answer.status == 204 else "created meanwhile by another replica"
        report.outcomes.append(Outcome("role", role.name, action, detail))
        return
    metadata = (found.body or {}).get("metadata") or {}
    if metadata.get("managed_by") != MANAGED_BY:
        report.outcomes.append(Outcome("role", role.name, "foreign", "not managed by log-indexer"))
        return
    version = _version(metadata)
    if version >= role.version:
        action = "unchanged" if version == role.version else "newer"
        report.outcomes.append(Outcome("role", role.name, action, f"v{version}"))
        return
    request = Request("PUT", path, role.body)
    client.request(request.method, request.path, request.body, expect=(204,))
    report.requests.append(request)
    report.outcomes.append(Outcome("role", role.name, "updated", f"v{version} -> v{role.version}"))


def _version(marker: dict[str, Any]) -> int:
    value = marker.get("version")
    return value if type(value) is int else 0
