"""The cluster's shard headroom: how many more shards it will open before refusing new indices.

Elasticsearch refuses an index that would take the open shards above
`cluster.max_shards_per_node` x data nodes (400 "... maximum normal shards open"). The reading is
cached for a short while and charged locally for each index this process creates, so preparing
a burst of new daily indices at midnight costs two requests, not two per index.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from indexer.admin import metrics
from indexer.admin.definitions import Definitions
from indexer.admin.validate import winning_template
from indexer.admin.values import flatten_settings
from indexer.cluster import ClusterError, SearchClient

DEFAULT_MAX_SHARDS_PER_NODE = 1000
_SHARD_LIMIT = re.compile(r"maximum (?:normal )?shards open")


@dataclass(frozen=True)
class Headroom:
    max_shards_per_node: int
    data_nodes: int
    open_shards: int

    @property
    def free(self) -> int:
        return self.max_shards_per_node * self.data_nodes - self.open_shards


def read_headroom(client: SearchClient) -> Headroom:
    """Two requests: the effective `cluster.max_shards_per_node`, and the health's shard counts."""
    answer = client.request(
        "GET",
        "/_cluster/settings",
        params={"include_defaults": "true", "flat_settings": "true"},
    )
    limit = DEFAULT_MAX_SHARDS_PER_NODE
    for scope in ("defaults", "persistent", "transient"):  # later scopes win
        value = answer.get(scope, {}).get("cluster.max_shards_per_node")
        if value is not None:
            limit = int(value)
    health = client.request("GET", "/_cluster/health")
    open_shards = sum(
        int(health.get(key, 0))
        for key in ("active_shards", "initializing_shards", "unassigned_shards")
    )
    return Headroom(limit, int(health.get("number_of_data_nodes", 1)), open_shards)


def is_shard_limit_error(exc: ClusterError) -> bool:
    return exc.status == 400 and bool(_SHARD_LIMIT.search(exc.reason))


def shards_of_new_index(definitions: Definitions, index: str) -> int:
    """Primary and replica shards the template that matches `index` would give it."""
    found = winning_template(definitions.index_templates, index)
    settings: dict[str, Any] = {}
    if found is not None:
        body = found[1]
        for name in body.get("composed_of", []):
            component = definitions.components.get(name, {})
            settings.update(flatten_settings(component.get("template", {}).get("settings")))
        settings.update(flatten_settings(body.get("template", {}).get("settings")))
    shards = int(settings.get("index.number_of_shards", 1))
    replicas = int(settings.get("index.number_of_replicas", 1))
    return shards * (1 + replicas)


class ShardBudget:
    """Thread-safe cached headroom; `charge` after creating an index, `invalidate` after a refusal."""

    def __init__(
        self,
        client: SearchClient,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._free: int | None = None
        self._read_at = 0.0

    def free(self) -> int:
        with self._lock:
            if self._free is None or self._clock() - self._read_at >= self._ttl:
                self._free = read_headroom(self._client).free
                self._read_at = self._clock()
            metrics.SHARD_HEADROOM.set(self._free)
            return self._free

    def charge(self, shards: int) -> None:
        with self._lock:
            if self._free is not None:
                self._free -= shards
                metrics.SHARD_HEADROOM.set(self._free)

    def invalidate(self) -> None:
        with self._lock:
            self._free = None
