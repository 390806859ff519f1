"""What the runtime checks at start when it does not set up (`lifecycle.setup_on_start: false`):
that setup has run, without any privilege to change what it finds.

`check_runtime` detects who manages lifecycles (indexer/cluster.py, `detect`) and reads each of
our index templates (`GET _index_template/<name>`, the runtime role's one template privilege,
read-only: deploy/roles/README.md). A template that is missing, or is not ours
(`_meta.managed_by`), means `indexer setup` has not run: SetupError naming it and the fix, and
the caller keeps the indexer unready and consuming nothing, so no index is created without our
mappings. A 403 on that read (a role without the read privilege) is not a refusal to start: it
is logged once (`templates_unchecked`) and each new index's own mappings are checked instead
(indexer/admin/preparer.py, `TemplatesMissing`).

Raises SetupError as above; ClusterUnavailable and other ClusterErrors propagate (retried).
"""

from __future__ import annotations

import structlog

from indexer.admin.definitions import load_checked_definitions
from indexer.admin.errors import SetupError
from indexer.admin.render import MANAGED_BY, desired_objects
from indexer.cluster import ClusterError, ClusterInfo, SearchClient, detect
from indexer.settings import Settings

log = structlog.get_logger()

SETUP_HINT = "run `indexer setup` (the log-indexer-setup Job) with the setup role"


def check_runtime(client: SearchClient, settings: Settings) -> ClusterInfo:
    """The cluster's lifecycle, once every index template of ours is on the cluster."""
    cluster = detect(client, settings.lifecycle)
    definitions = load_checked_definitions(settings)
    prefix = settings.routing.index_prefix
    names = [
        one.name
        for one in desired_objects(definitions, cluster, settings.lifecycle, prefix)
        if one.kind == "index_template"
    ]
    missing: list[str] = []
    for name in names:
        try:
            answer = client.request("GET", f"/_index_template/{name}")
        except ClusterError as exc:
            if exc.status == 404:
                missing.append(name)
                continue
            if exc.status == 403:
                log.warning("templates_unchecked", template=name, error=exc.reason[:300])
                return cluster
            raise
        found = [t for t in answer.get("index_templates", []) if t.get("name") == name]
        meta = (found[0].get("index_template", {}).get("_meta") or {}) if found else {}
        if meta.get("managed_by") != MANAGED_BY:
            missing.append(name)
    if missing:
        raise SetupError(f"index templates missing or not ours: {', '.join(missing)}: {SETUP_HINT}")
    return cluster
