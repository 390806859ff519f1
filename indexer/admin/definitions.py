"""The reviewed files: component templates, index templates and lifecycle policies.

Layout (each file name, without `.json`, is the object's name in the cluster):

    index_templates/component/<name>.json   body of PUT _component_template/<name>
    index_templates/index/<name>.json       body of PUT _index_template/<name>
    ilm/<name>.json                         body of PUT _ilm/policy/<name>

Templates carry their `version`; an ILM policy carries it in `policy._meta.version` (the
cluster's own policy version counts updates, not reviews).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

Kind = Literal["component_template", "index_template", "ilm_policy"]

KIND_DIRS: dict[Kind, tuple[str, str]] = {
    "component_template": ("templates", "component"),
    "index_template": ("templates", "index"),
    "ilm_policy": ("policies", ""),
}

PHASES = ("hot", "warm", "cold", "frozen", "delete")

_DURATION = re.compile(r"^(?P<n>\d+)(?P<unit>nanos|micros|ms|s|m|h|d)$")
_UNIT_SECONDS = {
    "nanos": 1e-9,
    "micros": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


class DefinitionError(ValueError):
    """The files cannot be read as definitions (run `indexer templates validate`)."""


@dataclass(frozen=True)
class SourceFile:
    kind: Kind
    name: str
    path: Path
    body: Any  # parsed JSON, not yet validated


@dataclass(frozen=True)
class Definitions:
    """The validated-enough-to-use contents of the files, by name."""

    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    index_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def delete_after(self, policy: str) -> timedelta | None:
        """The `min_age` of the policy's delete phase; None when the policy never deletes."""
        phases = self.policies.get(policy, {}).get("policy", {}).get("phases", {})
        delete = phases.get("delete")
        if not isinstance(delete, dict) or "delete" not in delete.get("actions", {}):
            return None
        return parse_duration(str(delete.get("min_age", "0ms")))

    def template_policy(self, name: str) -> str | None:
        """The lifecycle policy an index template's own settings name, if any."""
        settings = flatten_settings(self.index_templates[name].get("template", {}).get("settings"))
        value = settings.get("index.lifecycle.name")
        return None if value is None else str(value)


def parse_duration(text: str) -> timedelta:
    """An Elasticsearch time value (`7d`, `12h`, `0ms`); ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time value such as 7d, 12h or 0ms")
    return timedelta(seconds=int(match["n"]) * _UNIT_SECONDS[match["unit"]])


def flatten_settings(settings: Any, prefix: str = "") -> dict[str, Any]:
    """Index settings as dotted keys, each starting with `index.` (as Elasticsearch reads them)."""
    flat: dict[str, Any] = {}
    if not isinstance(settings, dict):
        return flat
    for key, value in settings.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_settings(value, dotted + "."))
        else:
            flat[dotted] = value
    if not prefix:
        flat = {k if k.startswith("index.") else "index." + k: v for k, v in flat.items()}
    return flat


def read_sources(templates_dir: Path, policies_dir: Path) -> tuple[list[SourceFile], list[str]]:
    """Every definition file, parsed. JSON syntax errors come back as messages naming the file."""
    sources: list[SourceFile] = []
    errors: list[str] = []
    roots = {"templates": templates_dir, "policies": policies_dir}
    for kind, (root, sub) in KIND_DIRS.items():
        directory = roots[root] / sub if sub else roots[root]
        if not directory.is_dir():
            errors.append(f"{directory}: not a directory")
            continue
        for path in sorted(directory.glob("*.json")):
            try:
                body = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                errors.append(f"{path}: cannot read: {exc}")
                continue
            except json.JSONDecodeError as exc:
                errors.append(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}")
                continue
            sources.append(SourceFile(kind, path.stem, path, body))
    return sources, errors


def load_definitions(templates_dir: Path, policies_dir: Path) -> Definitions:
    """The definitions, once `indexer.admin.validate` finds nothing wrong with the files."""
    from indexer.admin.validate import validate_sources

    sources, errors = read_sources(templates_dir, policies_dir)
    problems = errors + [str(p) for p in validate_sources(sources)]
    if problems:
        shown = "\n".join(problems[:20])
        raise DefinitionError(f"{len(problems)} problem(s) in the definition files:\n{shown}")
    definitions = Definitions()
    target = {
        "component_template": definitions.components,
        "index_template": definitions.index_templates,
        "ilm_policy": definitions.policies,
    }
    for source in sources:
        target[source.kind][source.name] = source.body
    return definitions
