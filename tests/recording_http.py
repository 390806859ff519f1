"""The part of the recording Kibana (tests/kibana_server.py) and the recording OpenSearch
Dashboards (tests/dashboards_server.py) that is the same: a real HTTP server on a loopback
port-0 socket, in a thread, that records every request and answers JSON from the subclass's
`_answer`. Used as a context manager: the server serves from `__enter__` to `__exit__`.

Requests are handled one at a time under a lock (`_answer` may change the state freely); a
request's headers are recorded with lower-case names. Bodies are Boom's, as Kibana and
Dashboards (its fork) both answer errors: `boom`.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: Any


class RecordingServer(ABC):
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._handle(self, "GET")

            def do_POST(self) -> None:
                owner._handle(self, "POST")

            def do_PUT(self) -> None:
                owner._handle(self, "PUT")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @abstractmethod
    def _answer(
        self, method: str, full_path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        """The status and the JSON body (None: empty) for one request, under the lock."""

    def _arrived(self) -> None:  # noqa: B027 (an optional hook: does nothing by default)
        """Called for each request as it arrives, before it is recorded (outside the lock)."""

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def writes(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method in ("POST", "PUT")]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self._arrived()
        with self._lock:
            self.requests.append(Recorded(method, handler.path, headers, body))
            status, answer = self._answer(method, handler.path, headers, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


_REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}


def boom(status: int, message: str) -> tuple[int, Any]:
    """Boom's error body, as Kibana and Dashboards answer: statusCode, error, message."""
    return status, {
        "statusCode": status,
        "error": _REASONS.get(status, "Error"),
        "message": message,
    }
