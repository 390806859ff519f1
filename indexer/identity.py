"""Path → Kubernetes identity: which namespace, app, pod and container wrote a log file.

Filebeat tells us only `log.file.path`. A layout such as
`/data/logs/{namespace}/{app}/{pod}/log/{file}` turns it into an identity. Only names that are
valid Kubernetes names come out, so nothing in a path can steer an event into a foreign or
illegal index.

Namespaces, pods and containers follow their DNS-1123 rules (lower case, no `_`). The app is
what a pod template wrote from a label value (`app.kubernetes.io/name`), so it follows the label
value syntax instead: `Cart-API` and `ledger_v2` are apps. `Identity.app` keeps that spelling
(it becomes `service.name`); `index_app` gives the lower-case form index names need.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# DNS-1123 label: what Kubernetes allows for namespaces and (label values aside) container names.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# App names come from a directory a pod template names after a label value: at most 63
# characters, alphanumerics at both ends, `-`, `_`, `.` and alphanumerics between (Kubernetes'
# label value syntax, less the empty value, which names no directory). 63 keeps an index name
# far below 255 bytes; an alphanumeric first character keeps `.`, `..` and `_shared` out.
APP_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# DNS-1123 subdomain, for pod names (they never reach an index name).
POD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PLACEHOLDER_PATTERNS = {
    "namespace": r"[^/_]+",
    # An app may hold `_`; namespaces, pods, containers and uids never do, so a layout such as
    # `{namespace}_{app}_{pod}` still splits one way only.
    "app": r"[^/]+",
    "pod": r"[^/_]+",
    "container": r"[^/_]+",
    "uid": r"[^/_]+",
    "id": r"[0-9a-f]{64}",
    "file": r"[^/]+",
}

# Pod-name suffixes the workload controllers add (their random part avoids vowels and 0, 1, 3).
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_GENERATED_SUFFIX = re.compile(rf"(-{_SAFE}{{6,10}}-{_SAFE}{{5}}|-{_SAFE}{{5}}|-[0-9]+)$")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who wrote a log file. `app` is what routing and `service.name` use."""

    namespace: str
    app: str
    pod: str | None = None
    container: str | None = None


class LayoutError(ValueError):
    """A configured layout is not usable."""


def compile_layout(layout: str) -> re.Pattern[str]:
    """Turn `/data/logs/{namespace}/{app}/...` into an anchored regex with named groups."""
    names = _PLACEHOLDER.findall(layout)
    unknown = sorted(set(names) - set(_PLACEHOLDER_PATTERNS))
    if unknown:
        raise LayoutError(f"layout {layout!r}: unknown placeholder(s) {unknown}")
    if len(names) != len(set(names)):
        raise LayoutError(f"layout {layout!r}: a placeholder appears twice")
    if "namespace" not in names or not {"app", "pod"} & set(names):
        raise LayoutError(f"layout {layout!r}: needs {{namespace}} and {{app}} or {{pod}}")
    if not layout.startswith("/"):
        raise LayoutError(f"layout {layout!r}: must be an absolute path")
    parts = _PLACEHOLDER.split(layout)
    regex = "".join(
        f"(?P<{part}>{_PLACEHOLDER_PATTERNS[part]})" if i % 2 else re.escape(part)
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def index_app(app: str) -> str:
    """The app as index names spell it: lower case (Elasticsearch refuses upper case), so
    `Cart-API` and `cart-api` share one index. `_` and `.` stay: they are legal there."""
    return app.lower()


def app_from_pod(pod: str) -> str:
    """The workload name of a controller-made pod: `web-7d4b9c8f6-x2x7q` → `web`."""
    stripped = _GENERATED_SUFFIX.sub("", pod)
    return stripped or pod


MAX_CACHED_PATH = 4096
"""Longest path (in characters) a path cache keeps: Linux's PATH_MAX. A longer one is resolved
each time it comes: it names no pod anyway, and caching it would let a few events hold
megabytes each."""
CACHE_PATH_CHARS = 8 * 1024 * 1024
"""The characters of paths a path cache may hold before it starts over (with the entry bound,
this keeps each cache to a few tens of MiB whatever the paths are)."""


class PathCache:
    """Fills a dict keyed by paths, bounded by entries and by the characters of its keys: full,
    it starts over (the next events resolve their paths again). Paths longer than
    MAX_CACHED_PATH are not kept. Readers look `entries` up directly: a plain dict, the hot
    path's fastest lookup."""

    def __init__(self, max_entries: int = 65536, max_chars: int = CACHE_PATH_CHARS) -> None:
        self.entries: dict[str, Any] = {}
        self._max_entries = max_entries
        self._max_chars = max_chars
        self.chars = 0
        """Characters of the keys held."""

    def put(self, path: str, value: Any) -> None:
        if len(path) > MAX_CACHED_PATH:
            return
        entries = self.entries
        if len(entries) >= self._max_entries or self.chars + len(path) > self._max_chars:
            entries.clear()  # the same dict: readers holding it see it emptied
            self.chars = 0
        entries[path] = value
        self.chars += len(path)


class IdentityResolver:
    """Resolves paths with the configured layouts, first match wins. Not thread-safe (it caches)."""

    def __init__(self, layouts: list[str] | tuple[str, ...], cache_size: int = 65536) -> None:
        self._layouts = [compile_layout(layout) for layout in layouts]
        self._bound = PathCache(cache_size)
        self._cache: dict[str, Identity | None] = self._bound.entries

    def resolve(self, path: str) -> Identity | None:
        """The identity of `path`, or None when no layout matches with valid names."""
        try:
            return self._cache[path]
        except KeyError:
            pass
        identity = self._match(path)
        self._bound.put(path, identity)
        return identity

    def _match(self, path: str) -> Identity | None:
        if "/../" in path or "/./" in path:
            return None
        for layout in self._layouts:
            found = layout.fullmatch(path)  # `$` alone would let a final newline through
            if found is None:
                continue
            groups = found.groupdict()
            pod = groups.get("pod")
            app = groups.get("app") or (app_from_pod(pod) if pod else None)
            identity = Identity(
                namespace=groups["namespace"],
                app=app or "",
                pod=pod,
                container=groups.get("container"),
            )
            if _valid(identity):
                return identity
        return None


def _valid(identity: Identity) -> bool:
    return bool(
        DNS_LABEL.fullmatch(identity.namespace)
        and APP_NAME.fullmatch(identity.app)
        and (identity.pod is None or POD_NAME.fullmatch(identity.pod))
        and (identity.container is None or DNS_LABEL.fullmatch(identity.container))
    )
