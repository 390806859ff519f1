"""A fast Elasticsearch-compatible bulk sink, for throughput measurements only.

It runs in its own process (`python -m bench.sink --port P`) so it never shares a GIL with what
it measures: one asyncio loop, HTTP/1.1 keep-alive, and per-document work done only by C code
(one regex pass over each bulk body, a set update and a Counter update).

What it answers, enough for the official client (8.x) and the indexer:
  GET /                   a cluster banner, version 8.15.0, with `X-Elastic-Product: Elasticsearch`
  HEAD /<index>           200 if created, else 404
  GET /<name>/_alias      the index with no aliases if created, else 404 (as Elasticsearch)
  PUT /<index>            creates it; 400 resource_already_exists_exception the second time
  POST|PUT [/<index>]/_bulk  one item per document; `{"errors":false,...}`, filter_path honoured
                          for the shapes clients ask (`errors` alone, or with `items.*.status`...)
  anything else           200 `{"acknowledged":true}`

Bench control (JSON):
  GET  /_bench/stats      documents, distinct ids, duplicates, per-index counts, bulks, first and
                          last document time (CLOCK_MONOTONIC, system-wide), latency percentiles
  POST /_bench/reset?fail_rate=0.01&latency=1   forget everything; inject 429 items at this rate;
                          measure latency from each document's `bench_sent` field (epoch seconds)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

_ACTION = re.compile(rb'"_index":"([^"]*)","_id":"([^"]*)"')
_SENT = re.compile(rb'"bench_sent":([0-9.eE+-]+)')
_BANNER = orjson.dumps(
    {
        "name": "bench-sink",
        "cluster_name": "bench",
        "cluster_uuid": "bench-sink-0000",
        "version": {
            "number": "8.15.0",
            "build_flavor": "default",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0",
        },
        "tagline": "You Know, for Search",
    }
)
_HEADERS = (
    "HTTP/1.1 {status} {reason}\r\n"
    "Content-Type: application/json\r\n"
    "X-Elastic-Product: Elasticsearch\r\n"
    "Content-Length: {length}\r\n\r\n"
)
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass
class Stats:
    """What the sink has received since the last reset."""

    documents: int = 0
    duplicates: int = 0
    bulks: int = 0
    failed_items: int = 0
    first: float | None = None
    first_bulk_docs: int = 0
    last: float | None = None
    ids: set[bytes] = field(default_factory=set)
    per_index: Counter[bytes] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "documents": self.documents,
            "distinct_ids": len(self.ids),
            "duplicates": self.duplicates,
            "bulks": self.bulks,
            "failed_items": self.failed_items,
            "first": self.first,
            "first_bulk_docs": self.first_bulk_docs,
            "last": self.last,
            "indices": len(self.per_index),
            "per_index": {k.decode(): v for k, v in sorted(self.per_index.items())},
            "latency": _percentiles(lat),
        }


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return {"count": len(values), "p50": at(0.5), "p99": at(0.99), "max": values[-1]}


class Sink:
    def __init__(self) -> None:
        self.stats = Stats()
        self.indices: set[str] = set()
        self.fail_rate = 0.0
        self.latency = False
        self._rng = random.Random(11)

    def control(self, path: str, query: dict[str, list[str]]) -> bytes:
        if path == "/_bench/reset":
            return self.reset(query)
        return orjson.dumps(self.stats.summary())

    def reset(self, query: dict[str, list[str]]) -> bytes:
        self.stats = Stats()
        self.indices.clear()
        self.fail_rate = float(query.get("fail_rate", ["0"])[0])
        self.latency = query.get("latency", ["0"])[0] == "1"
        return b'{"acknowledged":true}'

    def bulk(self, body: bytes, query: dict[str, list[str]]) -> bytes:
        now = time.monotonic()
        actions = _ACTION.findall(body)
        if self.latency:
            wall = time.time()
            self.stats.latencies.extend(wall - float(sent) for sent in _SENT.findall(body))
        failed: set[int] = set()
        if self.fail_rate and actions:
            failed = {i for i in range(len(actions)) if self._rng.random() < self.fail_rate}
        accepted = [a for i, a in enumerate(actions) if i not in failed] if failed else actions
        self._record(accepted, now)
        self.stats.failed_items += len(failed)
        return _bulk_reply(actions, failed, query.get("filter_path", [""])[0])

    def _record(self, actions: list[tuple[bytes, bytes]], now: float) -> None:
        stats = self.stats
        if not actions:
            return
        if stats.first is None:
            stats.first = now
            stats.first_bulk_docs = len(actions)
        stats.last = now
        stats.bulks += 1
        before = len(stats.ids)
        stats.ids.update(a[1] for a in actions)
        stats.duplicates += len(actions) - (len(stats.ids) - before)
        stats.documents += len(actions)
        stats.per_index.update(a[0] for a in actions)


def _bulk_reply(actions: list[tuple[bytes, bytes]], failed: set[int], filter_path: str) -> bytes:
    errors = b"true" if failed else b"false"
    wants_items = not filter_path or "items" in filter_path
    if not wants_items:
        return b'{"errors":%s}' % errors
    if not failed and filter_path:
        # Filtered and error free: the same small item for every document.
        item = b'{"create":{"status":201}}'
        return b'{"errors":false,"items":[' + b",".join([item] * len(actions)) + b"]}"
    items = []
    for i, (index, doc_id) in enumerate(actions):
        if i in failed:
            items.append(
                b'{"create":{"_index":"%s","_id":"%s","status":429,"error":{"type":'
                b'"es_rejected_execution_exception","reason":"bench: injected rejection"}}}'
                % (index, doc_id)
            )
        else:
            items.append(
                b'{"create":{"_index":"%s","_id":"%s","_version":1,"result":"created",'
                b'"_seq_no":0,"_primary_term":1,"status":201}}' % (index, doc_id)
            )
    took = b'"took":1,' if not filter_path else b""
    return b'{%s"errors":%s,"items":[%s]}' % (took, errors, b",".join(items))


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, sink: Sink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._sink = sink
        self._reader = reader
        self._writer = writer

    async def serve(self) -> None:
        try:
            while await self._one():
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()

    async def _one(self) -> bool:
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        body = await self._body(headers)
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        status, reply = self._route(method, target, body)
        head_out = _HEADERS.format(
            status=status, reason=_REASONS.get(status, "OK"), length=len(reply)
        )
        self._writer.write(head_out.encode("latin-1"))
        if method != "HEAD":
            self._writer.write(reply)
        await self._writer.drain()
        return headers.get("connection", "").lower() != "close"

    async def _body(self, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self._reader.readuntil(b"\r\n")
                    return b"".join(parts)
                parts.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
        length = int(headers.get("content-length") or 0)
        return await self._reader.readexactly(length) if length else b""

    def _route(self, method: str, target: str, body: bytes) -> tuple[int, bytes]:
        url = urlsplit(target)
        path = url.path.rstrip("/")
        query = parse_qs(url.query)
        sink = self._sink
        if path.endswith("/_bulk") and method in ("POST", "PUT"):
            return 200, sink.bulk(body, query)
        if path.startswith("/_bench/"):
            return 200, sink.control(path, query)
        if path == "":
            return 200, _BANNER
        return _index_call(sink, method, path.lstrip("/"))


def _index_call(sink: Sink, method: str, index: str) -> tuple[int, bytes]:
    """HEAD, PUT and the alias look-up of one index; anything else is acknowledged and ignored."""
    if method == "HEAD":
        return (200 if index in sink.indices else 404), b""
    if method == "GET" and index.endswith("/_alias"):
        return _aliases_of(sink, index.removesuffix("/_alias"))
    if method == "PUT" and "/" not in index:
        return _create_index(sink, index)
    return 200, b'{"acknowledged":true}'


def _aliases_of(sink: Sink, name: str) -> tuple[int, bytes]:
    """`GET /<name>/_alias` as Elasticsearch answers it: the index with no aliases, or 404
    (the sink keeps no aliases)."""
    if name in sink.indices:
        return 200, orjson.dumps({name: {"aliases": {}}})
    return 404, orjson.dumps({"error": f"alias [{name}] missing", "status": 404})


def _create_index(sink: Sink, index: str) -> tuple[int, bytes]:
    if index in sink.indices:
        error = {
            "type": "resource_already_exists_exception",
            "reason": f"index [{index}] already exists",
            "index": index,
        }
        return 400, orjson.dumps({"error": {**error, "root_cause": [error]}, "status": 400})
    sink.indices.add(index)
    return 200, orjson.dumps({"acknowledged": True, "shards_acknowledged": True, "index": index})


async def serve(port: int) -> None:
    sink = Sink()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Connection(sink, reader, writer).serve()

    server = await asyncio.start_server(accept, "127.0.0.1", port, limit=1 << 20, backlog=64)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
