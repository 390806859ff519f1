"""One HTTP call to Kibana's public API, with the headers every such call needs.

- `kbn-xsrf` on every request: Kibana refuses a POST/PUT/DELETE without it (400 `Request must
  contain a kbn-xsrf header.`, core's http lifecycle handlers); it is harmless on a GET.
- `Elastic-Api-Version: 2023-10-31`: the first (and so far only) version of the public data
  views, spaces and roles routes (`INITIAL_REST_VERSION` / `API_VERSIONS.public.v1`).
- Auth: `Authorization: ApiKey <id:key base64>` or basic, from the `kibana` settings.
- A space's objects live under `/s/<space>/api/...`; the default space needs no prefix.
- Redirects are followed (urllib's rules) but `Authorization` only within the same origin
  (scheme, host, port): urllib copies every header to wherever a redirect points, which would
  hand the Kibana credentials to another host.

Errors: `KibanaUnavailable` when Kibana cannot be reached or answers 5xx (retry later);
`KibanaError` for any other answer the caller did not expect (its status and Kibana's message).
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from indexer.redact import redact_text
from indexer.settings import KibanaSettings

API_VERSION = "2023-10-31"


class KibanaError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path} answered {status}: {str(message)[:300]}")
        self.status = status
        self.body = body


class KibanaUnavailable(Exception):
    """Kibana did not answer, or answered 5xx."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or default)


class _SameOriginAuthRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling, minus the credentials when the redirect leaves the origin."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def space_path(space: str, path: str) -> str:
    return path if space == "default" else f"/s/{urllib.parse.quote(space)}{path}"


class KibanaClient:
    def __init__(self, settings: KibanaSettings) -> None:
        if settings.url is None:
            raise ValueError("kibana.url is not set")
        self.url = settings.url
        self._timeout = settings.timeout_seconds
        self._headers = {
            "kbn-xsrf": "true",
            "Elastic-Api-Version": API_VERSION,
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
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self._context), _SameOriginAuthRedirects()
        )

    def request(
        self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)
    ) -> Answer:
        """Send one request; return the answer when its status is in `expect`."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self._headers
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (OSError, ValueError) as exc:  # refused, reset, timeout, TLS, bad URL
            raise KibanaUnavailable(redact_text(f"{method} {self.url}{path}: {exc}")) from None
        parsed = _parse(raw)
        if status in expect:
            return Answer(status, parsed)
        if status >= 500:
            error = KibanaError(method, path, status, parsed)
            raise KibanaUnavailable(str(error))
        raise KibanaError(method, path, status, parsed)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:300]
