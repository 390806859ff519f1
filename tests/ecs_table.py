"""The ECS table our mappings are compared with, and the command that regenerates it.

`tests/data/ecs_fields.yml` is a trimmed extract of elastic/ecs `generated/ecs/ecs_flat.yml`:
name, type and multi-fields of every field our templates map that ECS defines, of the ECS
fields our dynamic templates type (`*.ip`, `*.geo.location`, labels), and the names we map that
ECS does not define. Regenerate it after a template change or for a new ECS release:

    git -C ECS_GIT_DIR show v9.4.0:generated/ecs/ecs_flat.yml > /tmp/ecs_flat.yml
    .venv/bin/python -m tests.ecs_table /tmp/ecs_flat.yml v9.4.0 $(git -C ECS_GIT_DIR rev-parse v9.4.0^{commit})

(ECS_GIT_DIR: a clone of github.com/elastic/ecs.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from indexer.admin.definitions import Definitions, load_definitions
from indexer.admin.index_body import create_body
from indexer.admin.render import desired_objects
from indexer.admin.settings import DEFAULT_POLICIES_DIR, DEFAULT_TEMPLATES_DIR, LifecycleSettings
from indexer.cluster import ClusterInfo

TABLE = Path(__file__).parent / "data" / "ecs_fields.yml"
PREFIX = "k8s-logs"
# One index of each kind our templates and the preparer make.
INDICES = {
    "app": f"{PREFIX}-shop_cart-2026.11.26",  # fixed on purpose: only the name's shape matters
    "shared": f"{PREFIX}-shop__shared-2026.11.26",
    "deadletter": f"{PREFIX}-deadletter-2026.11.26",
    "unmatched": f"{PREFIX}-unmatched-2026.11.26",
}
TEMPLATE_OF = {
    "app": "k8s-logs-apps",
    "shared": "k8s-logs-apps",
    "deadletter": "k8s-logs-deadletter",
    "unmatched": "k8s-logs-unmatched",
}
# ECS fields no property of ours names, typed by our dynamic templates.
DYNAMIC = {"ip": "ip", "labels": "keyword"}


def definitions() -> Definitions:
    return load_definitions(DEFAULT_TEMPLATES_DIR, DEFAULT_POLICIES_DIR)


def index_mappings(cluster: ClusterInfo, kind: str) -> dict[str, Any]:
    """The mappings a new index of `kind` gets on `cluster`: its rendered templates, in
    `composed_of` order, then the index template's own, then the create-index body's."""
    rendered = {
        (o.kind, o.name): o.body
        for o in desired_objects(definitions(), cluster, LifecycleSettings(), PREFIX)
    }
    template = rendered[("index_template", TEMPLATE_OF[kind])]
    parts = [rendered[("component_template", c)] for c in template.get("composed_of", [])]
    parts.append(template)
    merged: dict[str, Any] = {}
    for part in parts:
        _merge(merged, part.get("template", {}).get("mappings", {}))
    body = create_body(cluster, PREFIX, INDICES[kind])
    if body is not None:
        _merge(merged, body["mappings"])
    return merged


def _merge(into: dict[str, Any], mappings: dict[str, Any]) -> None:
    for key, value in mappings.items():
        if key == "properties":
            _merge_properties(into.setdefault("properties", {}), value)
        else:
            into[key] = value


def _merge_properties(into: dict[str, Any], properties: dict[str, Any]) -> None:
    # As the cluster merges templates: an object's properties merge, a field is replaced.
    for name, spec in properties.items():
        if "properties" in spec and "properties" in into.get(name, {}):
            _merge_properties(into[name]["properties"], spec["properties"])
        else:
            into[name] = spec


def leaf_fields(mappings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every mapped field by its dotted name: objects with properties are walked, an object
    without (such as `labels`) is a field of type `object`."""
    out: dict[str, dict[str, Any]] = {}

    def walk(properties: dict[str, Any], at: str) -> None:
        for name, spec in properties.items():
            here = f"{at}{name}"
            if "properties" in spec:
                walk(spec["properties"], here + ".")
            else:
                out[here] = spec

    walk(mappings.get("properties", {}), "")
    return out


def field_shape(spec: dict[str, Any]) -> dict[str, Any]:
    """What the comparison looks at: the type and the multi-fields' names and types."""
    shape: dict[str, Any] = {"type": spec.get("type", "object")}
    if spec.get("fields"):
        shape["multi_fields"] = {k: v["type"] for k, v in sorted(spec["fields"].items())}
    return shape


def load_table() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(TABLE.read_text())
    return loaded


def our_field_names() -> set[str]:
    clusters = [
        ClusterInfo("elasticsearch", "8.19.0", "ilm"),
        ClusterInfo("opensearch", "3.8.0", "ism"),
    ]
    return {
        name
        for cluster in clusters
        for kind in INDICES
        for name in leaf_fields(index_mappings(cluster, kind))
    }


def regenerate(ecs_flat: Path, version: str, commit: str) -> str:
    ecs: dict[str, Any] = yaml.safe_load(ecs_flat.read_text())
    ours = our_field_names()
    wanted = sorted(
        name
        for name in ecs
        if name in ours
        or name.endswith((".ip", ".geo.location"))
        or name in ("labels", "container.labels")
    )
    fields = {}
    for name in wanted:
        entry: dict[str, Any] = {"type": ecs[name]["type"]}
        multi = ecs[name].get("multi_fields")
        if multi:
            entry["multi_fields"] = {m["name"]: m["type"] for m in multi}
        if ecs[name].get("object_type"):
            entry["object_type"] = ecs[name]["object_type"]
        fields[name] = entry
    header = (
        f"# Trimmed from elastic/ecs generated/ecs/ecs_flat.yml at {version} (commit {commit}).\n"
        "# Regenerate: see tests/ecs_table.py. Read by tests/unit/test_ecs_mappings.py.\n"
    )
    body = {
        "ecs_version": version,
        "ecs_commit": commit,
        "fields": fields,
        "not_in_ecs": sorted(ours - set(ecs)),
    }
    return header + yaml.safe_dump(body, sort_keys=False, width=100)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python -m tests.ecs_table ECS_FLAT_YML VERSION COMMIT")
    TABLE.write_text(regenerate(Path(sys.argv[1]), sys.argv[2], sys.argv[3]))
    print(f"wrote {TABLE}")
