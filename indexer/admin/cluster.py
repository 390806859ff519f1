"""What the cluster offers: its distribution, and who manages index lifecycles there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import structlog
from elasticsearch import ApiError, Elasticsearch

from indexer.admin.settings import LifecycleSettings

Distribution = Literal["elasticsearch", "opensearch"]
Lifecycle = Literal["ilm", "ism", "sweeper", "off"]

JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}
ISM_POLICIES = "/_plugins/_ism/policies"

log = structlog.get_logger()


@dataclass(frozen=True)
class ClusterInfo:
    distribution: Distribution
    version: str
    lifecycle: Lifecycle

    @property
    def opensearch(self) -> bool:
        return self.distribution == "opensearch"


def request(
    client: Elasticsearch,
    method: str,
    path: str,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """One plain JSON request; the body of the answer. ApiError for any non-2xx status."""
    response = client.perform_request(method, path, params=params, headers=JSON_HEADERS, body=body)
    return response.body


def detect(client: Elasticsearch, settings: LifecycleSettings) -> ClusterInfo:
    """Ask `GET /`, then (in `auto` mode) probe the ILM or ISM endpoint the distribution has."""
    root = request(client, "GET", "/")
    version = root.get("version", {}) if isinstance(root, dict) else {}
    distribution: Distribution = (
        "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    )
    number = str(version.get("number", "unknown"))
    lifecycle: Lifecycle
    if settings.mode != "auto":
        lifecycle = settings.mode
    elif distribution == "opensearch":
        lifecycle = "ism" if _answers(client, ISM_POLICIES) else "sweeper"
    else:
        lifecycle = "ilm" if _answers(client, "/_ilm/status") else "sweeper"
    log.info(
        "lifecycle_detected",
        distribution=distribution,
        version=number,
        lifecycle=lifecycle,
        mode=settings.mode,
    )
    return ClusterInfo(distribution, number, lifecycle)


def _answers(client: Elasticsearch, path: str) -> bool:
    """Whether the endpoint exists: 400/404/405/501 "no handler" means the feature is absent."""
    try:
        request(client, "GET", path)
    except ApiError as exc:
        if exc.meta.status in (400, 404, 405, 410, 501):
            return False
        if exc.meta.status == 403:
            # Not allowed to look is not "absent"; assume present and let setup report refusals.
            return True
        raise
    return True
