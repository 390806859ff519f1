"""Health: `/metrics`, `/healthz` (liveness) and `/readyz` (readiness) on one HTTP port.

Liveness proves the poll loop is turning; a stuck loop gets the pod restarted. Readiness says the
consumer joined its group, Elasticsearch answers (a 401/403 is not an answer), and offsets move: no
committable offset advanced for `stall_seconds` while the lag is above zero means the replica is
stuck (an index parked, a block everywhere). A replica that cannot write is taken out of rotation
without being killed.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


@dataclass
class Health:
    liveness_timeout: float
    joined: bool = False
    elasticsearch_ok: bool = False
    setup_ok: bool = True
    stall_seconds: float = float("inf")
    lag: Callable[[], float] = lambda: 0.0
    """The consumer lag in messages (`indexer.consume.total_lag`)."""
    worker_failure: Callable[[], str | None] = lambda: None
    """Why a background thread the loop relies on (parking) ended, if one did."""
    kafka_problem: Callable[[], str | None] = lambda: None
    """Why Kafka cannot be used now (`indexer.kafka_log.KafkaLogBridge.problem`), or None."""
    _beat: float = field(default_factory=time.monotonic)
    _progress: float = field(default_factory=time.monotonic)

    def progressed(self) -> None:
        """A committable offset advanced."""
        self._progress = time.monotonic()

    def stalled_for(self) -> float | None:
        """Seconds since offsets last advanced, when that is longer than allowed with lag."""
        age = time.monotonic() - self._progress
        if age > self.stall_seconds and self.lag() > 0:
            return age
        return None

    def beat(self) -> None:
        self._beat = time.monotonic()

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self._beat
        if age > self.liveness_timeout:
            return False, f"poll loop has not turned for {age:.0f} s"
        failure = self.worker_failure()
        if failure is not None:
            return False, failure
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        problems = [
            text
            for ok, text in (
                (self.joined, "not yet joined the consumer group"),
                (self.elasticsearch_ok, "Elasticsearch is not answering"),
                (self.setup_ok, "templates and policies are not applied"),
            )
            if not ok
        ]
        kafka = self.kafka_problem()
        if kafka is not None:
            problems.insert(0, kafka)
        stalled = self.stalled_for()
        if stalled is not None:
            problems.append(f"no offset advanced for {stalled:.0f} s while lagging")
        return (not problems, "; ".join(problems) or "ok")

    def checks(self) -> dict[str, Check]:
        return {"/healthz": self.live, "/readyz": self.ready}


Check = Callable[[], tuple[bool, str]]


class HealthServer:
    """Serves `/metrics` and the given checks (path → (ok, text)) from a daemon thread.
    `port` is the bound port (useful with 0). Used by the indexer and by the node agent.

    Bounded, whatever the clients do (a thread per connection, as `ThreadingHTTPServer` has,
    lets idle connections pile up threads without limit): one thread waits on every open
    connection at once with a selector, and a connection goes to one of `workers` threads only
    once its request bytes have arrived. A connection idle for `idle_timeout` seconds is closed,
    at most `max_connections` are kept open (the oldest idle one is closed for a new one), and a
    worker gives up on a request that does not arrive complete within `request_timeout`. So 500
    idle connections leave /healthz answering at once. One request per connection (HTTP/1.0).
    """

    def __init__(
        self,
        host: str,
        port: int,
        checks: dict[str, Check],
        registry: CollectorRegistry = REGISTRY,
        *,
        workers: int = 4,
        request_timeout: float = 5.0,
        idle_timeout: float = 10.0,
        max_connections: int = 256,
    ) -> None:

        class Handler(BaseHTTPRequestHandler):
            timeout = request_timeout  # StreamRequestHandler: the socket's timeout

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path in checks:
                    ok, text = checks[path]()
                    self._send(200 if ok else 503, text.encode() + b"\n", "text/plain")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._handler = Handler
        self._idle_timeout = idle_timeout
        self._max_connections = max_connections
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, port), family=family, backlog=128)
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._waiting: dict[socket.socket, tuple[float, Any]] = {}  # open, no request yet
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="health-worker")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="health", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.25):
                if key.fileobj is self._listener:
                    self._accept()
                else:
                    sock = cast("socket.socket", key.fileobj)
                    _, address = self._waiting.pop(sock)
                    self._selector.unregister(sock)
                    self._pool.submit(self._answer, sock, address)
            self._expire(time.monotonic() - self._idle_timeout)
        for sock in list(self._waiting):
            self._drop(sock)
        self._selector.close()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # out of file descriptors, or the like: the next select tries again
            if len(self._waiting) >= self._max_connections:
                self._drop(min(self._waiting, key=lambda s: self._waiting[s][0]))
            self._waiting[sock] = (time.monotonic(), address)
            self._selector.register(sock, selectors.EVENT_READ)

    def _expire(self, before: float) -> None:
        for sock in [s for s, (since, _) in self._waiting.items() if since < before]:
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        self._waiting.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(sock)
        sock.close()

    def _answer(self, sock: socket.socket, address: Any) -> None:
        sock.setblocking(True)
        try:
            self._handler(sock, address, self)  # type: ignore[arg-type]
        except OSError:
            pass  # the client went away or timed out mid-request
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
