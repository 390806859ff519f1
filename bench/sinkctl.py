"""Start the bench sink in its own process and talk to its control endpoints."""

from __future__ import annotations

import http.client
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from bench import child_env


@dataclass
class SinkProcess:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_bench/stats")

    def reset(self, fail_rate: float = 0.0, latency: bool = False) -> None:
        self._call("POST", f"/_bench/reset?fail_rate={fail_rate}&latency={int(latency)}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _call(self, method: str, path: str) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            data: dict[str, Any] = orjson.loads(response.read())
            return data
        finally:
            conn.close()


def start_sink() -> SinkProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sink", "--port", "0"],
        stdout=subprocess.PIPE,
        env=child_env(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().split()
    if len(line) != 2 or line[0] != "listening":
        proc.kill()
        raise RuntimeError(f"the bench sink did not start: {line}")
    return SinkProcess(proc, int(line[1]))
