"""One HTTP call to Kibana's public API, with the headers every such call needs.

- `kbn-xsrf` on every request: Kibana refuses a POST/PUT/DELETE without it (400 `Request must
  contain a kbn-xsrf header.`, core's http lifecycle handlers); it is harmless on a GET.
- `Elastic-Api-Version: 2023-10-31`: the first (and so far only) version of the public data
  views, spaces and roles routes (`INITIAL_REST_VERSION` / `API_VERSIONS.public.v1`).
- Auth, TLS and redirects (credentials kept within the origin): indexer/saved_objects/http.py,
  from the `kibana` settings.
- A space's objects live under `/s/<space>/api/...`; the default space needs no prefix.

Errors: `KibanaUnavailable` when Kibana cannot be reached or answers 5xx (retry later);
`KibanaError` for any other answer the caller did not expect (its status and Kibana's message).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from indexer.saved_objects.http import Answer, ApiError, JsonApiClient
from indexer.settings import KibanaSettings

API_VERSION = "2023-10-31"


class KibanaError(ApiError):
    """Kibana answered a status the caller did not expect (not 5xx)."""


class KibanaUnavailable(Exception):
    """Kibana did not answer, or answered 5xx."""


def space_path(space: str, path: str) -> str:
    return path if space == "default" else f"/s/{urllib.parse.quote(space)}{path}"


class KibanaClient(JsonApiClient):
    def __init__(self, settings: KibanaSettings) -> None:
        super().__init__(
            settings,
            section="kibana",
            headers={"kbn-xsrf": "true", "Elastic-Api-Version": API_VERSION},
            error=KibanaError,
            unavailable=KibanaUnavailable,
        )

    def request(
        self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)
    ) -> Answer:
        """Send one request; return the answer when its status is in `expect`."""
        return self.send(method, path, body, expect=expect)
