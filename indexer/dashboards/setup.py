"""Make OpenSearch Dashboards (and the security plugin) hold the desired objects: read what is
there, write only what differs, by the rules of indexer/kibana/setup.py:

- missing: created; ours with an older version: updated; the same or newer: left as it is;
- not ours (no marker, or another index pattern already has our title): left alone, and the
  outcome says so. A tenant that is not ours gets neither our index pattern nor our role.
- Without the security plugin there are no tenants: tenants, roles and the index patterns meant
  for the namespaces' tenants are skipped, with a line saying so (without
  `--tenant-per-namespace` every index pattern goes to the global tenant and needs no plugin).

A second run sends no write. A dry run sends nothing and lists what an empty cluster would get.

The answers relied on (the recording server in tests/dashboards_server.py answers the same way):

- Dashboards' saved objects API (forked from Kibana 7.10, whose "Saved objects API" pages
  document it): `GET /api/saved_objects/_find?type=index-pattern&per_page=1000` → 200
  `{"page", "per_page", "total", "saved_objects": [{"id", "type", "attributes", "references",
  "version"}]}`; `POST /api/saved_objects/index-pattern/<id>` `{"attributes"}` → 200 the object,
  an id in use → 409 `Saved object [index-pattern/<id>] conflict`; `PUT
  /api/saved_objects/index-pattern/<id>` `{"attributes"}` → 200, unknown id → 404.
- The security plugin's REST API (docs.opensearch.org, Security, Access control, API): `GET
  /_plugins/_security/api/tenants/<t>` → 200 `{"<t>": {"reserved", "hidden", "description",
  "static"}}`, unknown → 404 `{"status": "NOT_FOUND", "message": "Resource '<t>' not found."}`;
  `PUT …/tenants/<t>` `{"description"}` → 201 `{"status": "CREATED", "message": "'<t>'
  created."}` (200 `OK`/`updated` when it existed); roles the same under `…/roles/<r>` with
  `{"description", "cluster_permissions", "index_permissions", "tenant_permissions"}`. Without
  the plugin the cluster has no such route: 400 `no handler found for uri […]`.
"""

from __future__ import annotations

from typing import Any

from indexer.cluster import ClusterError, SearchClient
from indexer.dashboards.client import DashboardsClient, DashboardsError
from indexer.dashboards.objects import (
    TENANT_MARKER,
    Desired,
    IndexPattern,
    Tenant,
    pattern_version,
    role_version,
)
from indexer.saved_objects.files import Role
from indexer.saved_objects.report import Outcome, Report, Request

SECURITY = "/_plugins/_security/api"
FIND = "/api/saved_objects/_find?type=index-pattern&per_page=1000"
_NO_PLUGIN = "the cluster has no security plugin"
_NOT_OURS_TENANT = "its tenant exists and is not managed by log-indexer"


class NoSecurityPlugin(Exception):
    """The cluster answered the security plugin's route with "no handler"."""


def apply(
    client: DashboardsClient | None,
    cluster: SearchClient | None,
    wanted: Desired,
    *,
    dry_run: bool = False,
) -> Report:
    """Create or update `wanted` (module doc). `cluster` speaks to the security plugin. With
    `dry_run` neither is used and the report lists every write an empty cluster would get."""
    report = Report()
    if dry_run or client is None:
        return _plan_empty(wanted, report)
    skipped: dict[str, str] = {}  # tenant → why its objects are skipped
    if (wanted.tenants or wanted.roles) and cluster is not None:
        try:
            for tenant in wanted.tenants:
                if not _tenant(cluster, tenant, report):
                    skipped[tenant.name] = _NOT_OURS_TENANT
        except NoSecurityPlugin:
            for tenant in wanted.tenants:
                report.outcomes.append(Outcome("tenant", tenant.name, "skipped", _NO_PLUGIN))
                skipped[tenant.name] = _NO_PLUGIN
            for role in wanted.roles:
                report.outcomes.append(Outcome("role", role.name, "skipped", _NO_PLUGIN))
            wanted = Desired([], wanted.index_patterns, [])
    by_tenant: dict[str, list[IndexPattern]] = {}
    for pattern in wanted.index_patterns:
        by_tenant.setdefault(pattern.tenant, []).append(pattern)
    for where, patterns in by_tenant.items():
        if where in skipped:
            for pattern in patterns:
                detail = f"tenant {where}: {skipped[where]}"
                report.outcomes.append(Outcome("index pattern", pattern.id, "skipped", detail))
            continue
        existing = _listed(client, where)
        for pattern in patterns:
            _pattern(client, pattern, existing, report)
    for role in wanted.roles:
        tenants = {t for p in role.body.get("tenant_permissions", []) for t in p["tenant_patterns"]}
        if tenants & skipped.keys():
            report.outcomes.append(Outcome("role", role.name, "skipped", _NOT_OURS_TENANT))
            continue
        assert cluster is not None
        _role(cluster, role, report)
    return report


def _plan_empty(wanted: Desired, report: Report) -> Report:
    for tenant in wanted.tenants:
        report.requests.append(Request("PUT", f"{SECURITY}/tenants/{tenant.name}", tenant.body))
        report.outcomes.append(Outcome("tenant", tenant.name, "would create"))
    for pattern in wanted.index_patterns:
        path = f"/api/saved_objects/index-pattern/{pattern.id}"
        report.requests.append(Request("POST", path, {"attributes": pattern.attributes}))
        detail = f"{pattern.title} in tenant {pattern.tenant}"
        report.outcomes.append(Outcome("index pattern", pattern.id, "would create", detail))
    for role in wanted.roles:
        report.requests.append(Request("PUT", f"{SECURITY}/roles/{role.name}", role.body))
        report.outcomes.append(Outcome("role", role.name, "would create"))
    return report


def _security_get(cluster: SearchClient, path: str) -> dict[str, Any] | None:
    """The named object (its body), None when absent; NoSecurityPlugin when no such route."""
    try:
        answer = cluster.request("GET", path)
    except ClusterError as exc:
        if exc.status == 404 and isinstance(exc.body, dict) and exc.body.get("status"):
            return None
        if exc.status in (400, 404, 405, 501):
            raise NoSecurityPlugin(str(exc)) from None
        raise
    name = path.rsplit("/", 1)[1]
    found = answer.get(name) if isinstance(answer, dict) else None
    return found if isinstance(found, dict) else {}


def _tenant(cluster: SearchClient, tenant: Tenant, report: Report) -> bool:
    """Make sure the tenant exists; False when one of that name exists and is not ours."""
    path = f"{SECURITY}/tenants/{tenant.name}"
    found = _security_get(cluster, path)
    if found is not None:
        ours = str(found.get("description") or "").endswith(TENANT_MARKER)
        action, detail = ("unchanged", "") if ours else ("foreign", "not managed by log-indexer")
        report.outcomes.append(Outcome("tenant", tenant.name, action, detail))
        return ours
    cluster.request("PUT", path, tenant.body)
    report.requests.append(Request("PUT", path, tenant.body))
    report.outcomes.append(Outcome("tenant", tenant.name, "created"))
    return True


def _role(cluster: SearchClient, role: Role, report: Report) -> None:
    path = f"{SECURITY}/roles/{role.name}"
    found = _security_get(cluster, path)
    if found is not None:
        version = role_version(str(found.get("description") or ""))
        if version is None:
            report.outcomes.append(Outcome("role", role.name, "foreign", "not managed by us"))
            return
        if version >= role.version:
            action = "unchanged" if version == role.version else "newer"
            report.outcomes.append(Outcome("role", role.name, action, f"v{version}"))
            return
    cluster.request("PUT", path, role.body)
    report.requests.append(Request("PUT", path, role.body))
    if found is None:
        report.outcomes.append(Outcome("role", role.name, "created"))
    else:
        detail = f"v{role_version(str(found.get('description')))} -> v{role.version}"
        report.outcomes.append(Outcome("role", role.name, "updated", detail))


def _listed(client: DashboardsClient, tenant: str) -> list[dict[str, Any]]:
    body = client.request("GET", FIND, tenant=tenant).body
    objects = body.get("saved_objects", []) if isinstance(body, dict) else []
    return [o for o in objects if isinstance(o, dict)]


def _pattern(
    client: DashboardsClient, pattern: IndexPattern, existing: list[dict[str, Any]], report: Report
) -> None:
    where = f"{pattern.title} in tenant {pattern.tenant}"
    mine = next((item for item in existing if item.get("id") == pattern.id), None)
    path = f"/api/saved_objects/index-pattern/{pattern.id}"
    body = {"attributes": pattern.attributes}
    if mine is not None:
        found = pattern_version(mine.get("attributes") or {})
        if found is None:
            detail = f"id {pattern.id} in tenant {pattern.tenant} is not managed by log-indexer"
            report.outcomes.append(Outcome("index pattern", pattern.id, "foreign", detail))
            return
        if found >= pattern.version:
            action = "unchanged" if found == pattern.version else "newer"
            detail = f"v{found} in tenant {pattern.tenant}"
            report.outcomes.append(Outcome("index pattern", pattern.id, action, detail))
            return
        client.request("PUT", path, body, tenant=pattern.tenant)
        report.requests.append(Request("PUT", path, body))
        detail = f"v{found} -> v{pattern.version} in tenant {pattern.tenant}"
        report.outcomes.append(Outcome("index pattern", pattern.id, "updated", detail))
        return
    for item in existing:
        if (item.get("attributes") or {}).get("title") == pattern.title:
            detail = (
                f"index pattern {item.get('id')} in tenant {pattern.tenant} has the title "
                f"{pattern.title!r} and is not managed by log-indexer"
            )
            report.outcomes.append(Outcome("index pattern", pattern.id, "foreign", detail))
            return
    try:
        client.request("POST", path, body, tenant=pattern.tenant)
    except DashboardsError as exc:
        if exc.status != 409:
            raise
        report.requests.append(Request("POST", path, body))
        again = next((i for i in _listed(client, pattern.tenant) if i.get("id") == pattern.id), {})
        if pattern_version(again.get("attributes") or {}) is not None:
            detail = "created meanwhile by another replica"
            report.outcomes.append(Outcome("index pattern", pattern.id, "unchanged", detail))
        else:
            detail = f"Dashboards refused it in tenant {pattern.tenant}: {exc}"
            report.outcomes.append(Outcome("index pattern", pattern.id, "foreign", detail))
        return
    report.requests.append(Request("POST", path, body))
    report.outcomes.append(Outcome("index pattern", pattern.id, "created", where))
