"""A recording Kibana: a real HTTP server on a loopback port-0 socket, in a thread, that keeps
data views, spaces and roles in memory and answers the routes the indexer uses as Kibana does.

Kibana cannot run here. Each answer below is taken from Kibana's source or API docs (elastic/
kibana; paths under src/platform/plugins/shared/data_views/ and x-pack/platform/plugins/shared/):

- Any POST/PUT/DELETE without `kbn-xsrf`: 400 `{"statusCode":400,"error":"Bad Request",
  "message":"Request must contain a kbn-xsrf header."}` (core's http lifecycle handlers; their
  integration tests expect exactly this body).
- `GET [/s/<space>]/api/data_views`: 200 `{"data_view":[{"id","namespaces","title","typeMeta",
  "name"}]}` (server/rest_api_routes/public/get_data_views.ts; `getIdsWithTitle` in
  common/data_views/data_views.ts; the docs' example get_data_views_response.yaml).
- `POST [/s/<space>]/api/data_views/data_view`: 200 `{"data_view":{...spec,"namespaces":[space]}}`
  (public/create_data_view.ts); the same name in the space: 400 `Duplicate data view: <name>`
  (`createSavedObject`, DuplicateDataViewError); an id in use: the saved objects conflict, which
  `handleErrors` turns into a 400 (public/util/handle_errors.ts: only 404s stay 404s).
- `POST [/s/<space>]/api/data_views/data_view/<id>`: 200 `{"data_view":{...}}`; unknown id: 404
  `Saved object [index-pattern/<id>] not found` (public/update_data_view.ts).
- `GET /api/spaces/space/<id>`: 200 the space, or a bare 404 (spaces server/routes/api/
  external/get.ts); `POST /api/spaces/space`: 200 the space, or 409 `A space with the identifier
  <id> already exists.` (external/post.ts). A path under `/s/<unknown space>/`: 404.
- `GET /api/security/role/<name>`: 200 the role (`name`, `description`, `metadata`,
  `elasticsearch`, `kibana`, ...) or 404; `PUT /api/security/role/<name>[?createOnly=true]`: 204,
  or 409 `Role already exists and cannot be created: <name>` (security server/routes/
  authorization/roles/get.ts, put.ts).
- Bodies are checked as Kibana's `@kbn/config-schema` does, which refuses unknown keys: 400
  `[request body.<path>]: definition for this key is missing`. The keys are those of
  `dataViewSpecSchema` (data_views server/rest_api_routes/schema.ts), of the update route's
  `indexPatternUpdateSchema` (no `id`, no `namespaces`, no `allowHidden`), of the space schema
  (spaces server/lib/space_schema.ts: id `^[a-z0-9_-]+$`) and of the role payload (security
  routes/authorization/roles/model/put_payload.ts; a Kibana privilege has a non-empty `base`
  or `feature`, never both: getKibanaRoleSchema in @kbn/security-plugin-types-server).
- `hang_seconds`: every request is answered that late (or when the server stops).
- `fail_with = 500`: every request answers 500 `{"statusCode":500,"error":"Internal Server
  Error","message":"An internal server error occurred."}` (Boom's 500 body).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.recording_http import RecordingServer, boom

_SPACE = re.compile(r"^/s/(?P<space>[a-z0-9_-]+)(?P<rest>/.*)$")
_SPACE_ID = re.compile(r"^[a-z0-9_-]+$")
_VIEW_KEYS = {
    "title", "version", "id", "type", "timeFieldName", "sourceFilters", "fields", "typeMeta",
    "fieldFormats", "fieldAttrs", "allowNoIndex", "runtimeFieldMap", "name", "namespaces",
    "allowHidden",
}  # fmt: skip
_UPDATE_KEYS = {
    "title", "type", "typeMeta", "timeFieldName", "sourceFilters", "fieldFormats", "fields",
    "allowNoIndex", "runtimeFieldMap", "name",
}  # fmt: skip
_SPACE_KEYS = {
    "id", "name", "description", "initials", "color", "disabledFeatures", "_reserved",
    "imageUrl", "solution",
}  # fmt: skip
_ROLE_KEYS = {"description", "metadata", "elasticsearch", "kibana"}


@dataclass
class KibanaState:
    spaces: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"default": {"id": "default", "name": "Default", "_reserved": True}}
    )
    data_views: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)


class RecordingKibana(RecordingServer):
    def __init__(self) -> None:
        super().__init__()
        self.state = KibanaState()
        self.fail_with: int | None = None
        self.hang_seconds = 0.0  # answer this late (a Kibana that hangs); released on exit
        self.arrived = 0  # requests received, answered or not
        self._release = threading.Event()

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        super().__exit__(*exc)

    def views(self, space: str = "default") -> dict[str, dict[str, Any]]:
        return self.state.data_views.get(space, {})

    def _arrived(self) -> None:
        with self._lock:
            self.arrived += 1
        if self.hang_seconds:
            self._release.wait(self.hang_seconds)

    def _answer(  # noqa: PLR0911 (one route per return, as Kibana's router)
        self, method: str, full_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        if self.fail_with is not None:
            return boom(self.fail_with, "An internal server error occurred.")
        if method != "GET" and "kbn-xsrf" not in headers:
            return boom(400, "Request must contain a kbn-xsrf header.")
        parsed = urllib.parse.urlsplit(full_path)
        path, query = parsed.path, urllib.parse.parse_qs(parsed.query)
        space = "default"
        match = _SPACE.match(path)
        if match:
            space, path = match["space"], match["rest"]
            if space not in self.state.spaces:
                return boom(404, "Not Found")
        if path == "/api/data_views" and method == "GET":
            return 200, {"data_view": [_list_item(v) for v in self.views(space).values()]}
        refused = _refused(method, path, body)
        if refused:
            return boom(400, refused)
        if path == "/api/data_views/data_view" and method == "POST":
            return self._create_view(space, body["data_view"])
        if path.startswith("/api/data_views/data_view/") and method == "POST":
            return self._update_view(space, path.rsplit("/", 1)[1], body["data_view"])
        if path.startswith("/api/spaces/space/") and method == "GET":
            found = self.state.spaces.get(path.rsplit("/", 1)[1])
            return (200, found) if found else boom(404, "Not Found")
        if path == "/api/spaces/space" and method == "POST":
            if body["id"] in self.state.spaces:
                return boom(409, f"A space with the identifier {body['id']} already exists.")
            self.state.spaces[body["id"]] = body
            return 200, body
        if path.startswith("/api/security/role/"):
            return self._role(method, path.rsplit("/", 1)[1], query, body)
        return boom(404, "Not Found")

    def _create_view(self, space: str, spec: dict[str, Any]) -> tuple[int, Any]:
        name = spec.get("name") or spec["title"]
        views = self.state.data_views.setdefault(space, {})
        if any((v.get("name") or v["title"]) == name for v in views.values()):
            return boom(400, f"Duplicate data view: {name}")
        view_id = spec.get("id") or f"generated-{len(views)}"
        if any(view_id in per_space for per_space in self.state.data_views.values()):
            return boom(400, f"Saved object [index-pattern/{view_id}] conflict")
        stored = {**spec, "id": view_id, "name": name, "namespaces": [space], "version": "WzEsMV0="}
        views[view_id] = stored
        return 200, {"data_view": stored}

    def _update_view(self, space: str, view_id: str, changes: dict[str, Any]) -> tuple[int, Any]:
        stored = self.views(space).get(view_id)
        if stored is None:
            return boom(404, f"Saved object [index-pattern/{view_id}] not found")
        stored.update(changes)
        return 200, {"data_view": stored}

    def _role(
        self, method: str, name: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "GET":
            found = self.state.roles.get(name)
            return (200, {"name": name, **found}) if found else boom(404, "Not Found")
        if query.get("createOnly") == ["true"] and name in self.state.roles:
            return boom(409, f"Role already exists and cannot be created: {name}")
        self.state.roles[name] = body
        return 204, None


def _refused(method: str, path: str, body: Any) -> str | None:
    """What Kibana's request validation would say of `body`, or None when it passes."""
    if method == "POST" and path == "/api/data_views/data_view":
        return _refused_view(body, {"override", "refresh_fields"}, _VIEW_KEYS, create=True)
    if method == "POST" and path.startswith("/api/data_views/data_view/"):
        return _refused_view(body, {"refresh_fields"}, _UPDATE_KEYS, create=False)
    if method == "POST" and path == "/api/spaces/space":
        if not _SPACE_ID.match(str(body.get("id"))):
            return "[request body.id]: must be lower case, a-z, 0-9, '_', and '-' are allowed"
        return _unknown(body, _SPACE_KEYS, "")
    if method == "PUT" and path.startswith("/api/security/role/"):
        return _refused_role(body)
    return None


def _refused_role(body: Any) -> str | None:
    for n, entry in enumerate(body.get("kibana", [])):
        base, feature = entry.get("base") or [], entry.get("feature") or {}
        if base and feature:
            return (
                f"[request body.kibana.{n}]: definition of [feature] isn't allowed when "
                "non-empty [base] is defined."
            )
        if not base and not feature:
            return (
                f"[request body.kibana.{n}]: either [base] or [feature] is expected, but none "
                "of them specified"
            )
    return _unknown(body, _ROLE_KEYS, "")


def _refused_view(body: Any, options: set[str], keys: set[str], *, create: bool) -> str | None:
    outer = _unknown(body, {*options, "data_view"}, "")
    if outer:
        return outer
    spec = body.get("data_view")
    if not isinstance(spec, dict):
        return "[request body.data_view]: expected value of type [object]"
    if create and not isinstance(spec.get("title"), str):
        return "[request body.data_view.title]: expected value of type [string] but got [undefined]"
    return _unknown(spec, keys, "data_view.")


def _unknown(body: dict[str, Any], keys: set[str], where: str) -> str | None:
    extra = sorted(set(body) - keys)
    return (
        f"[request body.{where}{extra[0]}]: definition for this key is missing" if extra else None
    )


def _list_item(view: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "namespaces", "title", "typeMeta", "name")
    return {key: view[key] for key in keys if key in view}
