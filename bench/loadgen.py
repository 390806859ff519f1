"""Sink capacity: post pre-built bulk bodies as fast as possible (`python -m bench.loadgen`).

The bodies are built before the clock starts (unique ids, real event lines, 5000 documents each)
and sent over `--connections` keep-alive connections, so what is measured is the sink.
"""

from __future__ import annotations

import argparse
import http.client
import threading
from itertools import islice

from bench.events import backlog

DOCS_PER_BULK = 5000


def build_bodies(documents: int) -> list[bytes]:
    lines = list(backlog(DOCS_PER_BULK))
    bodies = []
    for start in range(0, documents, DOCS_PER_BULK):
        count = min(DOCS_PER_BULK, documents - start)
        parts = []
        for n, line in enumerate(islice(lines, count)):
            offset = start + n
            parts.append(
                b'{"create":{"_index":"logs-ns%d_app-2026.11.26","_id":"filebeat-bench:%d:%d"}}\n'
                % (offset % 100, offset % 4, offset)
            )
            parts.append(line + b"\n")
        bodies.append(b"".join(parts))
    return bodies


def post_all(port: int, bodies: list[bytes]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/x-ndjson"}
    for body in bodies:
        conn.request("POST", "/_bulk?filter_path=errors", body, headers)
        response = conn.getresponse()
        if response.status != 200 or response.read() != b'{"errors":false}':
            raise RuntimeError(f"sink answered {response.status}")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=2)
    args = parser.parse_args()
    bodies = build_bodies(args.documents)
    shares = [bodies[i :: args.connections] for i in range(args.connections)]
    threads = [threading.Thread(target=post_all, args=(args.port, s)) for s in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
