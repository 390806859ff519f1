"""What a fresh Elasticsearch 8.x/9.x cluster holds before anyone touches it, for the
Elasticsearch test bed: the stack template registry's templates, and its re-install rule.

Sources (../shared/REAL-CLUSTERS.md §1): elastic/elasticsearch
`x-pack/plugin/core/template-resources/src/main/resources/logs@template.json`,
`logs@mappings.json`, `logs@settings.json` (read for this module), `StackTemplateRegistry.java`
(current registry, version 14 on main) and `LegacyStackTemplateRegistry.java` (the deprecated
`logs-mappings`/`logs-settings` components, version 5), `IndexTemplateRegistry.java` (the
re-install rule: a missing object, or one whose `version` is null or lower, is put back on the
next cluster-state change).

What differs from the real bodies, because osmem refuses it (TESTING-NOTES.md): no
`allow_auto_create` on index templates, no `index.lifecycle.name`, `default_pipeline` or
`ignore_dynamic_beyond_limit` in `logs@settings` (no ILM, no ingest pipelines there), no
`data_stream_options`, and `@timestamp` as `date` where the real one is `date_nanos` when osmem
refuses that, `data_stream.dataset`/`namespace` as `keyword` (osmem's `constant_keyword` needs a
value), and no `deprecated: true` on the legacy components (osmem does not know the field). The
names, patterns, priorities, versions, `data_stream` and `_meta.managed` are
the real ones: those decide which template wins and what setup must refuse to touch.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

REGISTRY_VERSION = 14
LEGACY_REGISTRY_VERSION = 5


@dataclass(frozen=True)
class Builtin:
    kind: str  # "_index_template" or "_component_template"
    name: str
    body: dict[str, Any]

    @property
    def path(self) -> str:
        return f"/{self.kind}/{self.name}"

    @property
    def version(self) -> int:
        return int(self.body["version"])


def _meta(description: str) -> dict[str, Any]:
    return {"description": description, "managed": True}


def _logs_mappings(version: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template": {
            "mappings": {
                "date_detection": False,
                "properties": {
                    "@timestamp": {"type": "date_nanos"},
                    "data_stream": {
                        "properties": {
                            "type": {"type": "constant_keyword", "value": "logs"},
                            # constant_keyword without a value: osmem (as OpenSearch) needs one
                            "dataset": {"type": "keyword"},
                            "namespace": {"type": "keyword"},
                        }
                    },
                },
            }
        },
        "_meta": _meta("default mappings for the logs index template installed by x-pack"),
        "version": version,
    }
    return body


def _logs_settings(version: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "template": {
            "settings": {
                "index": {"codec": "best_compression", "mapping": {"ignore_malformed": True}}
            }
        },
        "_meta": _meta("default settings for the logs index template installed by x-pack"),
        "version": version,
    }
    return body


def _data_stream_template(
    patterns: list[str], priority: int, composed_of: list[str], what: str
) -> dict[str, Any]:
    return {
        "index_patterns": patterns,
        "priority": priority,
        "data_stream": {},
        "composed_of": composed_of,
        "_meta": _meta(f"default {what} template installed by x-pack"),
        "version": REGISTRY_VERSION,
    }


def builtins() -> list[Builtin]:
    """Components first, then the index templates composed of them."""
    current, legacy = REGISTRY_VERSION, LEGACY_REGISTRY_VERSION
    return [
        Builtin("_component_template", "logs@mappings", _logs_mappings(current)),
        Builtin("_component_template", "logs@settings", _logs_settings(current)),
        Builtin(
            "_component_template",
            "ecs@mappings",
            {
                "template": {"mappings": {"date_detection": False}},
                "_meta": _meta("dynamic mappings based on ECS, installed by x-pack"),
                "version": current,
            },
        ),
        Builtin("_component_template", "logs-mappings", _logs_mappings(legacy)),
        Builtin("_component_template", "logs-settings", _logs_settings(legacy)),
        Builtin(
            "_index_template",
            "logs",
            _data_stream_template(
                ["logs-*-*"], 100, ["logs@mappings", "logs@settings", "ecs@mappings"], "logs"
            ),
        ),
        Builtin(
            "_index_template",
            "logs-otel@template",
            _data_stream_template(["logs-*.otel-*"], 120, ["logs@mappings"], "logs OTel"),
        ),
        Builtin(
            "_index_template", "metrics", _data_stream_template(["metrics-*-*"], 100, [], "metrics")
        ),
        Builtin(
            "_index_template",
            "synthetics",
            _data_stream_template(["synthetics-*-*"], 100, [], "synthetics"),
        ),
    ]


def _call(base_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def install(base_url: str, builtin: Builtin) -> None:
    """PUT one built-in; `@timestamp` falls back to `date` where the server lacks `date_nanos`."""
    status, answer = _call(base_url, "PUT", builtin.path, builtin.body)
    if status >= 300 and "date_nanos" in json.dumps(answer):
        body = json.loads(json.dumps(builtin.body).replace('"date_nanos"', '"date"'))
        status, answer = _call(base_url, "PUT", builtin.path, body)
    if status >= 300:
        raise RuntimeError(f"seeding built-in {builtin.path} failed: {status} {answer}")


def seed(base_url: str) -> None:
    """Put every built-in, as a fresh cluster has them."""
    for builtin in builtins():
        install(base_url, builtin)


def reinstall(base_url: str) -> list[str]:
    """The registry's rule, once: put back each built-in that is missing or whose `version` is
    null or lower than the registry's. Returns the paths it put back."""
    restored = []
    for builtin in builtins():
        status, answer = _call(base_url, "GET", builtin.path)
        kind = builtin.kind.lstrip("_") + "s"
        found = [t for t in (answer or {}).get(kind, [])] if status == 200 else []
        body = found[0][builtin.kind.lstrip("_")] if found else None
        version = body.get("version") if body else None
        if body is None or not isinstance(version, int) or version < builtin.version:
            install(base_url, builtin)
            restored.append(builtin.path)
    return restored
