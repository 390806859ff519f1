"""The health and metrics server stays answerable whatever clients do: idle connections, and a
client that starts a request and never finishes it (real sockets on loopback)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from indexer.health import HealthServer


@pytest.fixture
def server() -> Iterator[HealthServer]:
    health = HealthServer(
        "127.0.0.1",
        0,
        {"/healthz": lambda: (True, "ok")},
        request_timeout=0.5,
        idle_timeout=1.0,
        max_connections=256,
    )
    try:
        yield health
    finally:
        health.close()


def _healthz(port: int) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
        return int(answer.status), bytes(answer.read())


def test_500_idle_connections_do_not_stop_healthz_answering_within_a_second(
    server: HealthServer,
) -> None:
    threads_before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(500)]
    try:
        # Each _healthz has a 1 s timeout: it raises if the server cannot answer in time.
        assert _healthz(server.port) == (200, b"ok\n")
        # Half-sent requests too: they hold a worker for request_timeout at most.
        for sock in idle[:8]:
            sock.sendall(b"GET /healthz HTTP/1.0\r\n")
        assert _healthz(server.port) == (200, b"ok\n")
        # No thread per connection: at most the workers were added.
        assert threading.active_count() <= threads_before + 4
    finally:
        for sock in idle:
            sock.close()


def test_an_idle_connection_is_closed_after_the_idle_timeout(server: HealthServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        started = time.monotonic()
        assert sock.recv(1) == b""  # closed by the server
        assert 0.5 < time.monotonic() - started < 4


def test_beyond_max_connections_the_oldest_idle_one_is_closed(server: HealthServer) -> None:
    first = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    others = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(256)]
    try:
        assert first.recv(1) == b""
        assert _healthz(server.port)[0] == 200
    finally:
        first.close()
        for sock in others:
            sock.close()


def test_unknown_paths_and_metrics_still_answer(server: HealthServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=1) as answer:
        assert answer.status == 200 and b"# HELP" in answer.read()
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/nope", timeout=1)
    assert caught.value.code == 404
