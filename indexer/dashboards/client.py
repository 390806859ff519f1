"""One HTTP call to OpenSearch Dashboards, with the headers each needs.

- `osd-xsrf: true` on every request: Dashboards refuses a write without it (400 `Request must
  contain a osd-xsrf header.`; OpenSearch documentation, "Common issues": Kibana's `kbn-xsrf`
  is not accepted).
- `securitytenant: <tenant>` selects the tenant of the saved objects (the security plugin's
  multi-tenancy; `global` is the global tenant). Without the security plugin it is ignored.
- Auth: `Authorization: ApiKey …` or basic, from the `dashboards` settings.

Errors: `DashboardsUnavailable` when Dashboards cannot be reached or answers 5xx;
`DashboardsError` for any other answer the caller did not expect.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from indexer.kibana.client import Answer
from indexer.settings import DashboardsSettings


class DashboardsError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path} answered {status}: {str(message)[:300]}")
        self.status = status
        self.body = body


class DashboardsUnavailable(Exception):
    """Dashboards did not answer, or answered 5xx."""


class DashboardsClient:
    def __init__(self, settings: DashboardsSettings) -> None:
        if settings.url is None:
            raise ValueError("dashboards.url is not set")
        self.url = settings.url
        self._timeout = settings.timeout_seconds
        self._headers = {
            "osd-xsrf": "true",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if settings.api_key is not None:
            self._headers["Authorization"] = "ApiKey " + settings.api_key.get_secret_value()
        elif settings.username is not None and settings.password is not None:
            pair = f"{settings.username}:{settings.password.get_secret_value()}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        self._context: ssl.SSLContext | None = None
        if self.url.startswith("https:"):
            self._context = ssl.create_default_context(
                cafile=str(settings.ca_certs) if settings.ca_certs else None
            )
            if not settings.verify_certs:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE

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
        data = None if body is None else json.dumps(body).encode()
        headers = {**self._headers, "securitytenant": tenant}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout, context=self._context) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (OSError, ValueError) as exc:
            raise DashboardsUnavailable(f"{method} {self.url}{path}: {exc}") from None
        parsed = _parse(raw)
        if status in expect:
            return Answer(status, parsed)
        if status >= 500:
            raise DashboardsUnavailable(str(DashboardsError(method, path, status, parsed)))
        raise DashboardsError(method, path, status, parsed)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:300]
