"""A fault rule for `CompatProxy` that enforces a role file of deploy/roles/ the way the
product's security layer would: each request is named by the action the cluster authorizes
(`indices:admin/create`, `cluster:monitor/health`, ...), checked against the role, and answered
`403 security_exception` in the product's own words when the role does not grant it. A request
this module cannot name is refused too (deny by default), so a new request in the code fails
the tests until the role files and this table both say who may send it.

The table follows the action names both products share (Elasticsearch and OpenSearch kept the
transport action names), the privileges that grant each on Elasticsearch
(https://www.elastic.co/guide/en/elasticsearch/reference/current/security-privileges.html) and
OpenSearch's default action groups
(https://docs.opensearch.org/docs/security/access-control/default-action-groups). Stricter than
Elasticsearch in one place: a bulk request with one item the role does not grant is refused as a
whole (Elasticsearch refuses that item alone, in the bulk answer).
"""

from __future__ import annotations

import fnmatch
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.embedded import Product, Reply

ROLES = Path(__file__).resolve().parent.parent / "deploy" / "roles"

# Elasticsearch: the named privileges that grant an action (the action's own name grants it too).
_CLUSTER_MONITOR = frozenset({"monitor", "manage", "all"})
_TEMPLATES = frozenset({"manage_index_templates", "manage", "all"})
_ILM_READ = frozenset({"read_ilm", "manage_ilm", "manage", "all"})
_ILM_WRITE = frozenset({"manage_ilm", "manage", "all"})
_VIEW = frozenset({"view_index_metadata", "manage", "all"})
_INDEX_MONITOR = frozenset({"monitor", "manage", "all"})
_GRANTS: dict[str, frozenset[str]] = {
    "cluster:monitor/main": _CLUSTER_MONITOR,
    "cluster:monitor/health": _CLUSTER_MONITOR,
    "cluster:monitor/settings": _CLUSTER_MONITOR,
    "cluster:monitor/state": _CLUSTER_MONITOR,
    "cluster:admin/ilm/operation_mode/get": _ILM_READ,
    "cluster:admin/ilm/get": _ILM_READ,
    "cluster:admin/ilm/put": _ILM_WRITE,
    "cluster:admin/component_template/get": _TEMPLATES,
    "cluster:admin/component_template/put": _TEMPLATES,
    "indices:admin/index_template/get": _TEMPLATES,
    "indices:admin/index_template/put": _TEMPLATES,
    "indices:admin/index_template/simulate_index": _TEMPLATES,
    "indices:admin/create": frozenset({"create_index", "manage", "all"}),
    "indices:admin/get": _VIEW,
    "indices:admin/mappings/get": _VIEW,
    "indices:admin/aliases/get": _VIEW,
    "indices:admin/aliases": frozenset({"manage", "all"}),
    "indices:admin/delete": frozenset({"delete_index", "manage", "all"}),
    "indices:data/read/search": frozenset({"read", "all"}),
    "indices:monitor/settings/get": _INDEX_MONITOR,
    "indices:monitor/stats": _INDEX_MONITOR,
    "indices:data/write/index:op_type/create": frozenset(
        {"create_doc", "create", "index", "write", "all"}
    ),
}
# OpenSearch: the default action groups our files use, as the permissions they stand for.
_ACTION_GROUPS: dict[str, tuple[str, ...]] = {
    "cluster_monitor": ("cluster:monitor/*",),
    "cluster_manage_index_templates": (
        "indices:admin/template/*",
        "indices:admin/index_template/*",
    ),
}


@dataclass(frozen=True)
class Action:
    """One authorization: a cluster action (`indices` empty) or an index action on `indices`."""

    name: str
    indices: tuple[str, ...] = ()
    product: Product | None = None  # None: both products authorize it


_INDEX = r"(?P<index>[^_/][^/]*)"
# (methods, path, action): a request matching a row needs that action (on the index, if any).
_ROWS: list[tuple[str, str, str]] = [
    ("GET HEAD", r"/", "cluster:monitor/main"),
    ("GET", r"/_cluster/health", "cluster:monitor/health"),
    ("GET", r"/_cluster/settings", "cluster:monitor/settings"),
    ("GET", r"/_ilm/status", "cluster:admin/ilm/operation_mode/get"),
    ("GET", r"/_ilm/policy/[^/]+", "cluster:admin/ilm/get"),
    ("PUT", r"/_ilm/policy/[^/]+", "cluster:admin/ilm/put"),
    ("GET", r"/_plugins/_ism/policies", "cluster:admin/opendistro/ism/policy/search"),
    ("GET", r"/_plugins/_ism/policies/[^/]+", "cluster:admin/opendistro/ism/policy/get"),
    ("PUT", r"/_plugins/_ism/policies/[^/]+", "cluster:admin/opendistro/ism/policy/write"),
    ("GET", r"/_component_template/[^/]+", "cluster:admin/component_template/get"),
    ("PUT", r"/_component_template/[^/]+", "cluster:admin/component_template/put"),
    ("GET", r"/_index_template(/[^_/][^/]*)?", "indices:admin/index_template/get"),
    ("PUT", r"/_index_template/[^_/][^/]*", "indices:admin/index_template/put"),
    (
        "POST",
        r"/_index_template/_simulate_index/[^/]+",
        "indices:admin/index_template/simulate_index",
    ),
    ("PUT", rf"/{_INDEX}", "indices:admin/create"),
    ("GET HEAD", rf"/{_INDEX}", "indices:admin/get"),
    ("DELETE", rf"/{_INDEX}", "indices:admin/delete"),
    ("GET", rf"/{_INDEX}/_alias", "indices:admin/aliases/get"),
    ("GET", rf"/{_INDEX}/_mapping", "indices:admin/mappings/get"),
    ("GET POST", rf"/{_INDEX}/_count", "indices:data/read/search"),
]
_TABLE = [(methods.split(), re.compile(path), action) for methods, path, action in _ROWS]


def actions(method: str, target: str, body: bytes) -> list[Action]:
    """What the cluster authorizes for one request; [Action("unknown ...")] when unknown."""
    path = target.split("?", 1)[0].rstrip("/") or "/"
    if path == "/_bulk" and method in ("POST", "PUT"):
        return _bulk(body)
    if path == "/_aliases" and method == "POST":
        names: list[str] = []
        for action in json.loads(body)["actions"]:
            for options in action.values():
                names += [options["index"], options["alias"]]
        return [Action("indices:admin/aliases", tuple(names))]
    cat = re.fullmatch(r"/_cat/indices/([^/]+)", path)
    if cat and method == "GET":
        pattern = (cat[1],)
        return [
            Action("cluster:monitor/state"),
            Action("indices:monitor/settings/get", pattern),
            Action("indices:monitor/stats", pattern),
        ]
    for methods, regex, name in _TABLE:
        found = regex.fullmatch(path)
        if found and method in methods:
            index = found.groupdict().get("index")
            return [Action(name, (index,) if index else ())]
    return [Action(f"unknown {method} {path}")]


def _bulk(body: bytes) -> list[Action]:
    indices: set[str] = set()
    lines = body.split(b"\n")
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        (op, meta), *_ = json.loads(lines[i]).items()
        if op != "create":
            return [Action(f"unknown bulk {op}")]
        indices.add(meta["_index"])
        i += 2
    names = tuple(sorted(indices))
    return [
        Action("indices:data/write/index:op_type/create", names, "elasticsearch"),
        Action("indices:data/write/bulk", (), "opensearch"),
        Action("indices:data/write/bulk[s]", names, "opensearch"),
        Action("indices:data/write/index", names, "opensearch"),
    ]


def load_role(product: Product, name: str) -> dict[str, Any]:
    """deploy/roles/<product>/<name>.json."""
    role: dict[str, Any] = json.loads((ROLES / product / f"{name}.json").read_text())
    return role


def granted(product: Product, role: dict[str, Any], action: Action) -> bool:
    """Whether `role` (a file of deploy/roles/<product>/) grants `action`."""
    if action.name.startswith("unknown"):
        return False
    if product == "elasticsearch":
        if not action.indices:
            return _es_grants(action.name, role.get("cluster", []))
        return all(
            any(
                any(fnmatch.fnmatchcase(index, n) for n in entry["names"])
                and _es_grants(action.name, entry["privileges"])
                for entry in role.get("indices", [])
            )
            for index in action.indices
        )
    if not action.indices:
        return _matches(action.name, role.get("cluster_permissions", []))
    return all(
        any(
            any(fnmatch.fnmatchcase(index, p) for p in entry["index_patterns"])
            and _matches(action.name, entry["allowed_actions"])
            for entry in role.get("index_permissions", [])
        )
        for index in action.indices
    )


def _es_grants(name: str, privileges: list[str]) -> bool:
    """A named privilege that grants `name`, or an action name: Elasticsearch reads an action
    name `P` in a role as the pattern `P*` (ClusterPrivilegeResolver / IndexPrivilege,
    `actionToPattern`)."""
    named = _GRANTS.get(name, frozenset())
    return any(p in named or (":" in p and name.startswith(p)) for p in privileges)


def _matches(name: str, permissions: list[str]) -> bool:
    patterns = [p for perm in permissions for p in _ACTION_GROUPS.get(perm, (perm,))]
    # fnmatch would read `[s]` as a character class: compare such names literally too.
    return any(name == p or fnmatch.fnmatchcase(name, p.replace("[", "[[]")) for p in patterns)


def security_exception(product: Product, action: Action) -> Reply:
    """The 403 each product answers (the wording of tests/test_no_crash.py's SECURITY_REASON:
    Elasticsearch names the privileges that would grant the action, OpenSearch the user)."""
    if product == "elasticsearch":
        kind = "index" if action.indices else "cluster"
        privileges = ",".join(sorted(_GRANTS.get(action.name, frozenset({"all"}))))
        on = f" on indices [{','.join(action.indices)}]" if action.indices else ""
        reason = (
            f"action [{action.name}] is unauthorized for API key id [x1] of user "
            f"[log-indexer]{on}, this action is granted by the {kind} privileges [{privileges}]"
        )
    else:
        reason = (
            f"no permissions for [{action.name}] and User "
            "[name=log-indexer, backend_roles=[], requestedTenant=null]"
        )
    error = {"type": "security_exception", "reason": reason}
    body = {"error": {"root_cause": [error], **error}, "status": 403}
    return Reply(403, json.dumps(body).encode())


@dataclass
class EnforceRole:
    """The fault rule: forward what `role` grants, refuse the rest (recorded in `refused`)."""

    product: Product
    role: dict[str, Any]
    allowed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, method: str, path: str, body: bytes) -> Reply | None:
        needed = [a for a in actions(method, path, body) if a.product in (None, self.product)]
        for action in needed:
            if not granted(self.product, self.role, action):
                with self._lock:
                    self.refused.append((method, path.split("?", 1)[0], action.name))
                return security_exception(self.product, action)
        with self._lock:
            self.allowed.append((method, path.split("?", 1)[0]))
        return None
