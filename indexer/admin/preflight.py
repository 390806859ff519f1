"""Pre-flight: would the cluster shape our indices with our templates?

For the first index of each kind the indexer writes (an app's day, a namespace's shared day,
dead letters, unmatched), two questions:

1. Which composable template wins? Elasticsearch and OpenSearch apply the matching template of
   the highest priority (REAL-CLUSTERS.md §1.3, §1.5). We read every template from
   `GET _index_template` and decide that ourselves, with our own templates as setup is about to
   leave them (so a dry run answers for the state after it). The winner must be ours
   (`_meta.managed_by`) and must not create data streams.
2. What does the cluster itself say? `POST _index_template/_simulate_index/<name>` resolves the
   settings and mappings a new index would get. Once our templates are applied, the mappings
   must carry our `_meta.managed_by`. A server whose simulation resolves nothing (the test
   server does this) leaves question 1 to decide.

Any failure raises `SetupError` naming the index, the template that would win, and its owner:
the indexer stays unready and writes nothing, rather than dead-lettering every line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from indexer.admin.errors import SetupError
from indexer.admin.naming import shared_index
from indexer.admin.render import MANAGED_BY, Desired
from indexer.admin.validate import winning_template
from indexer.cluster import ClusterError, SearchClient
from indexer.settings import Settings

PROBE_NAMESPACE = "preflight"
PROBE_APP = "probe"


def probe_indices(prefix: str, day: str) -> list[str]:
    """One name of each kind the router produces (see `indexer.admin.naming`)."""
    return [
        f"{prefix}-{PROBE_NAMESPACE}_{PROBE_APP}-{day}",
        shared_index(prefix, PROBE_NAMESPACE, day),
        f"{prefix}-deadletter-{day}",
        f"{prefix}-unmatched-{day}",
    ]


def preflight(
    client: SearchClient, settings: Settings, ours: list[Desired], *, applied: bool
) -> list[str]:
    """Check every probe index; return one line per check. SetupError on the first failure."""
    day = datetime.now(UTC).strftime("%Y.%m.%d")
    templates = cluster_templates(client)
    templates.update({d.name: d.body for d in ours})
    lines: list[str] = []
    for index in probe_indices(settings.routing.index_prefix, day):
        found = winning_template(templates, index)
        if found is None:
            raise SetupError(f"no index template matches {index}: our templates do not cover it")
        name, body = found
        owner = (body.get("_meta") or {}).get("managed_by")
        if owner != MANAGED_BY:
            raise SetupError(
                f"index {index} would get template {name} (priority {body.get('priority')}, "
                f"owned by {owner or 'someone else'}), not ours: raise our priority or narrow theirs"
            )
        if body.get("data_stream") is not None:
            raise SetupError(f"template {name} creates data streams only; {index} is an index")
        line = f"{index} -> {name} (ours, priority {body.get('priority')})"
        if applied:
            line += _simulated(client, index, name)
        lines.append(line)
    return lines


def cluster_templates(client: SearchClient) -> dict[str, dict[str, Any]]:
    try:
        answer = client.request("GET", "/_index_template")
    except ClusterError as exc:
        if exc.status == 404:
            return {}
        raise
    return {t["name"]: t["index_template"] for t in answer.get("index_templates", [])}


def _simulated(client: SearchClient, index: str, expected: str) -> str:
    try:
        answer = client.request("POST", f"/_index_template/_simulate_index/{index}")
    except ClusterError as exc:
        if exc.status in (400, 404, 405):
            return "; the cluster cannot simulate"
        raise
    template = answer.get("template") or {}
    if not template.get("mappings") and not template.get("settings"):
        return "; the cluster's simulation resolved nothing"
    meta = (template.get("mappings") or {}).get("_meta") or {}
    if meta.get("managed_by") != MANAGED_BY:
        overlapping = [o.get("name") for o in answer.get("overlapping") or []]
        raise SetupError(
            f"the cluster's simulation of {index} resolves mappings that are not ours "
            f"(expected template {expected}; overlapping: {overlapping})"
        )
    return "; the cluster's simulation agrees"
