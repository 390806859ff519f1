"""The definition files as read: parsed JSON, not yet checked (`validate.py` checks them,
`definitions.py` turns them into the definitions setup and the runtime use).

Layout (each file name, without `.json`, is the object's name in the cluster):

    index_templates/component/<name>.json   body of PUT _component_template/<name>
    index_templates/index/<name>.json       body of PUT _index_template/<name>
    ilm/<name>.json                         body of PUT _ilm/policy/<name>

Templates carry their `version`; an ILM policy carries it in `policy._meta.version` (the
cluster's own policy version counts updates, not reviews).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["component_template", "index_template", "ilm_policy"]

KIND_DIRS: dict[Kind, tuple[str, str]] = {
    "component_template": ("templates", "component"),
    "index_template": ("templates", "index"),
    "ilm_policy": ("policies", ""),
}


@dataclass(frozen=True)
class SourceFile:
    kind: Kind
    name: str
    path: Path
    body: Any  # parsed JSON, not yet validated


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
