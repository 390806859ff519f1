"""One JSON request to a Kibana-like HTTP API (Kibana, OpenSearch Dashboards): the plumbing both
clients share. Each product's client (indexer/kibana/client.py, indexer/dashboards/client.py)
adds its own headers (`kbn-xsrf` and the API version; `osd-xsrf` and the tenant) and its own
error classes.

- Auth: `Authorization: ApiKey <key>` when `api_key` is set, else basic from `username` and
  `password` (both or neither), else none.
- TLS: for an https URL, verified against `ca_certs` (else the system's CAs) unless
  `verify_certs` is off.
- Redirects are followed (urllib's rules) but `Authorization` only within the same origin
  (scheme, host, port): urllib copies every header to wherever a redirect points, which would
  hand the credentials to another host.

Errors: the product's `unavailable` class when the server cannot be reached or answers 5xx
(retry later; the message has any URL credentials redacted); its `error` class (an `ApiError`)
for any other answer the caller did not expect, with its status and the server's message.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from indexer.redact import redact_text


class ConnectionSettings(Protocol):
    """The settings a client reads (KibanaSettings and DashboardsSettings both have them)."""

    @property
    def url(self) -> str | None: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def username(self) -> str | None: ...
    @property
    def password(self) -> SecretStr | None: ...
    @property
    def ca_certs(self) -> Path | None: ...
    @property
    def verify_certs(self) -> bool: ...


class ApiError(Exception):
    """An answer the caller did not expect: `status` and the parsed `body` are kept."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{method} {path} answered {status}: {str(message)[:300]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # parsed JSON, None for an empty body, else the text's first 300 characters


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


class JsonApiClient:
    """Sends JSON requests to `settings.url` with `headers` plus the credentials.

    `section` names the settings section in the error for a missing URL (ValueError).
    Thread-safety: one request at a time per client is what the callers do; nothing is cached
    between requests but the opener."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        section: str,
        headers: dict[str, str],
        error: type[ApiError],
        unavailable: type[Exception],
    ) -> None:
        if settings.url is None:
            raise ValueError(f"{section}.url is not set")
        self.url = settings.url
        self._timeout = settings.timeout_seconds
        self._error = error
        self._unavailable = unavailable
        self._headers = {
            **headers,
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

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """Send one request (blocks up to the timeout); return the answer when its status is in
        `expect`, else raise as the module doc says. `headers` are added to this request only."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers=self._headers if headers is None else {**self._headers, **headers},
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except (OSError, ValueError) as exc:  # refused, reset, timeout, TLS, bad URL
            raise self._unavailable(redact_text(f"{method} {self.url}{path}: {exc}")) from None
        parsed = _parse(raw)
        if status in expect:
            return Answer(status, parsed)
        if status >= 500:
            raise self._unavailable(str(self._error(method, path, status, parsed)))
        raise self._error(method, path, status, parsed)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:300]
