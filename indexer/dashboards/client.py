"""One HTTP call to OpenSearch Dashboards, with the headers each needs.

- `osd-xsrf: true` on every request: Dashboards refuses a write without it (400 `Request must
  contain a osd-xsrf header.`; OpenSearch documentation, "Common issues": Kibana's `kbn-xsrf`
  is not accepted).
- `securitytenant: <tenant>` selects the tenant of the saved objects (the security plugin's
  multi-tenancy; `global` is the global tenant). Without the security plugin it is ignored.
- Auth, TLS and redirects (credentials kept within the origin): indexer/saved_objects/http.py,
  from the `dashboards` settings.

Errors: `DashboardsUnavailable` when Dashboards cannot be reached or answers 5xx;
`DashboardsError` for any other answer the caller did not expect.
"""

from __future__ import annotations

from typing import Any

from indexer.saved_objects.http import Answer, ApiError, JsonApiClient
from indexer.settings import DashboardsSettings


class DashboardsError(ApiError):
    """Dashboards answered a status the caller did not expect (not 5xx)."""


class DashboardsUnavailable(Exception):
    """Dashboards did not answer, or answered 5xx."""


class DashboardsClient(JsonApiClient):
    def __init__(self, settings: DashboardsSettings) -> None:
        super().__init__(
            settings,
            section="dashboards",
            headers={"osd-xsrf": "true"},
            error=DashboardsError,
            unavailable=DashboardsUnavailable,
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        tenant: str,
        expect: tuple[int, ...] = (200,),
    ) -> Answer:
        """Send one request in `tenant`; return the answer when its status is in `expect`."""
        return self.send(method, path, body, expect=expect, headers={"securitytenant": tenant})
