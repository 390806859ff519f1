"""A recording OpenSearch Dashboards, with the security plugin's REST API of the cluster beside
it: a real HTTP server on a loopback port-0 socket, in a thread, keeping index patterns (per
tenant), tenants and roles in memory and answering as documented.

Neither OpenSearch Dashboards nor the security plugin can run here. The answers:

- Any POST/PUT/DELETE without `osd-xsrf`: 400 `{"statusCode":400,"error":"Bad Request",
  "message":"Request must contain a osd-xsrf header."}` (OpenSearch documentation, "Common
  issues": scripts sending Kibana's `kbn-xsrf` are refused with this message; the body is
  Boom's, as Kibana's).
- Saved objects (Dashboards forked Kibana 7.10; Kibana 7.10's "Saved objects API" pages):
  `GET /api/saved_objects/_find?type=index-pattern&per_page=N`: 200 `{"page":1,"per_page":N,
  "total":n,"saved_objects":[{"id","type","attributes","references":[],"version"}]}`;
  `POST /api/saved_objects/index-pattern/<id>` `{"attributes"}`: 200 the object, or 409
  `Saved object [index-pattern/<id>] conflict`; `PUT` the same path: 200, or 404 `Saved object
  [index-pattern/<id>] not found`. Objects live in the tenant the `securitytenant` header names.
- The security plugin (docs.opensearch.org, Security, Access control, API): `GET
  /_plugins/_security/api/tenants/<t>`: 200 `{"<t>":{"reserved":false,"hidden":false,
  "description":…,"static":false}}` or 404 `{"status":"NOT_FOUND","message":"Resource '<t>' not
  found."}`; `PUT`: 201 `{"status":"CREATED","message":"'<t>' created."}` or 200
  `{"status":"OK","message":"'<t>' updated."}`; roles the same under `/roles/<r>`.
- `security_plugin = False`: those routes answer as a cluster without the plugin, 400
  `{"error":"no handler found for uri [<path>] and method [<m>]"}` (the osmem server words it
  so, as OpenSearch's RestController does).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from tests.recording_http import RecordingServer, boom

SECURITY = "/_plugins/_security/api/"


@dataclass
class DashboardsState:
    patterns: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # tenant → id
    tenants: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "global_tenant": {"reserved": True, "hidden": False, "description": "Global tenant"}
        }
    )
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)


class RecordingDashboards(RecordingServer):
    def __init__(self) -> None:
        super().__init__()
        self.state = DashboardsState()
        self.security_plugin = True

    def patterns(self, tenant: str = "global") -> dict[str, dict[str, Any]]:
        return self.state.patterns.get(tenant, {})

    def _answer(  # noqa: PLR0911 (one route per return, as a router)
        self, method: str, full_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        path = urllib.parse.urlsplit(full_path).path
        if path.startswith(SECURITY):
            return self._security(method, path, body)
        if method != "GET" and headers.get("osd-xsrf") != "true":
            return boom(400, "Request must contain a osd-xsrf header.")
        tenant = headers.get("securitytenant", "global")
        stored = self.state.patterns.setdefault(tenant, {})
        if path == "/api/saved_objects/_find" and method == "GET":
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(full_path).query)
            per_page = int(query.get("per_page", ["20"])[0])
            objects = [o for o in stored.values() if query.get("type") == [o["type"]]]
            return 200, {
                "page": 1,
                "per_page": per_page,
                "total": len(objects),
                "saved_objects": objects[:per_page],
            }
        prefix = "/api/saved_objects/index-pattern/"
        if path.startswith(prefix):
            object_id = path[len(prefix) :]
            if method == "POST":
                if object_id in stored:
                    return boom(409, f"Saved object [index-pattern/{object_id}] conflict")
                stored[object_id] = {
                    "id": object_id,
                    "type": "index-pattern",
                    "attributes": body["attributes"],
                    "references": [],
                    "version": "WzEsMV0=",
                }
                return 200, stored[object_id]
            if method == "PUT":
                if object_id not in stored:
                    return boom(404, f"Saved object [index-pattern/{object_id}] not found")
                stored[object_id]["attributes"] = body["attributes"]
                return 200, stored[object_id]
        return boom(404, "Not Found")

    def _security(  # noqa: PLR0911 (one route per return)
        self, method: str, path: str, body: Any
    ) -> tuple[int, Any]:
        if not self.security_plugin:
            return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
        kind, _, name = path[len(SECURITY) :].partition("/")
        store = {"tenants": self.state.tenants, "roles": self.state.roles}.get(kind)
        if store is None or not name:
            return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
        if method == "GET":
            if name not in store:
                return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}
            return 200, {name: {"reserved": False, "hidden": False, **store[name], "static": False}}
        if method == "PUT":
            existed = name in store
            store[name] = body
            if existed:
                return 200, {"status": "OK", "message": f"'{name}' updated."}
            return 201, {"status": "CREATED", "message": f"'{name}' created."}
        return 405, {"error": "method not allowed"}
