"""Health: `/metrics`, `/healthz` (liveness) and `/readyz` (readiness) on one HTTP port.

Liveness proves the poll loop is turning; a stuck loop gets the pod restarted. Readiness says the
consumer joined its group, Elasticsearch answers (a 401/403 is not an answer), and offsets move: no
committable offset advanced for `stall_seconds` while the lag is above zero means the replica is
stuck (an index parked, a block everywhere). A replica that cannot write is taken out of rotation
without being killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
    `port` is the bound port (useful with 0). Used by the indexer and by the node agent."""

    def __init__(
        self,
        host: str,
        port: int,
        checks: dict[str, Check],
        registry: CollectorRegistry = REGISTRY,
    ) -> None:

        class Handler(BaseHTTPRequestHandler):
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

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="health", daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
