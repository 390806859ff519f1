"""Every field we map that ECS defines has ECS's type, on Elasticsearch and on OpenSearch.

The table is tests/data/ecs_fields.yml (trimmed from elastic/ecs ecs_flat.yml; regenerate with
`python -m tests.ecs_table`). What is compared is what a new index really gets: the rendered
templates merged in `composed_of` order, then the preparer's create-index body. A difference
fails unless it is one of the deviations below, each with its reason; a deviation that no
longer happens fails too, so the list stays true.
"""

from __future__ import annotations

from typing import Any

import pytest

from indexer.cluster import ClusterInfo
from tests.ecs_table import INDICES, field_shape, index_mappings, leaf_fields, load_table

CLUSTERS = {
    "elasticsearch": ClusterInfo("elasticsearch", "8.19.0", "ilm"),
    "opensearch": ClusterInfo("opensearch", "3.8.0", "ism"),
}
ALIAS = {"type": "alias"}

# (distribution or "*", index kind or "*", field) -> what we map instead of ECS's type.
ALLOWED: dict[tuple[str, str, str], dict[str, Any]] = {
    # One app per index: ECS's keyword as a per-index constant (same keyword family in Kibana).
    ("elasticsearch", "app", "event.dataset"): {"type": "constant_keyword"},
    # The shared index holds several apps: the dataset is each document's service.name.
    ("elasticsearch", "shared", "data_stream.dataset"): ALIAS,
    ("elasticsearch", "shared", "event.dataset"): ALIAS,
    # OpenSearch's constant_keyword aggregates to the index name and cannot be fetched
    # (indexer/admin/index_body.py): aliases of service.name and kubernetes.namespace instead,
    # and data_stream.type stays the templates' unset keyword.
    ("opensearch", "app", "data_stream.dataset"): ALIAS,
    ("opensearch", "app", "data_stream.namespace"): ALIAS,
    ("opensearch", "app", "event.dataset"): ALIAS,
    ("opensearch", "app", "data_stream.type"): {"type": "keyword"},
    ("opensearch", "shared", "data_stream.dataset"): ALIAS,
    ("opensearch", "shared", "data_stream.namespace"): ALIAS,
    ("opensearch", "shared", "event.dataset"): ALIAS,
    ("opensearch", "shared", "data_stream.type"): {"type": "keyword"},
    # Dead letters must be searchable by their content; ECS's unindexed keyword stays as it is.
    ("*", "deadletter", "event.original"): {
        "type": "keyword",
        "multi_fields": {"text": "match_only_text"},
    },
}


def allowed(distribution: str, kind: str, name: str) -> dict[str, Any] | None:
    for key in ((distribution, kind, name), ("*", kind, name), (distribution, "*", name)):
        if key in ALLOWED:
            return ALLOWED[key]
    return None


def expected_shape(entry: dict[str, Any]) -> dict[str, Any]:
    shape = {"type": entry["type"]}
    if entry.get("multi_fields"):
        shape["multi_fields"] = dict(sorted(entry["multi_fields"].items()))
    return shape


def differences(distribution: str, kind: str) -> tuple[list[str], set[tuple[str, str, str]]]:
    table = load_table()
    fields = leaf_fields(index_mappings(CLUSTERS[distribution], kind))
    problems: list[str] = []
    used: set[tuple[str, str, str]] = set()
    for name, spec in sorted(fields.items()):
        if name not in table["fields"]:
            if name not in table["not_in_ecs"]:
                problems.append(f"{name}: not in tests/data/ecs_fields.yml: regenerate it")
            continue
        want, got = expected_shape(table["fields"][name]), field_shape(spec)
        if got == want:
            continue
        deviation = allowed(distribution, kind, name)
        if deviation == got:
            used.add((distribution, kind, name))
        else:
            problems.append(f"{name}: ECS {want}, ours {got}")
    return problems, used


@pytest.mark.parametrize("kind", sorted(INDICES))
@pytest.mark.parametrize("distribution", sorted(CLUSTERS))
def test_every_mapped_ecs_field_has_the_ecs_type(distribution: str, kind: str) -> None:
    problems, _ = differences(distribution, kind)
    assert problems == []


def test_every_allowed_deviation_still_happens() -> None:
    used: set[tuple[str, str, str]] = set()
    for distribution in CLUSTERS:
        for kind in INDICES:
            used |= differences(distribution, kind)[1]
    stale = [
        key
        for key in ALLOWED
        if not any(key[2] == u[2] and key[0] in ("*", u[0]) and key[1] in ("*", u[1]) for u in used)
    ]
    assert stale == []


def _dynamic_rules(mappings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rule.get("path_match", "*"): rule
        for entry in mappings.get("dynamic_templates", [])
        for rule in entry.values()
    }


@pytest.mark.parametrize("distribution", sorted(CLUSTERS))
def test_ecs_fields_filebeat_processors_may_add_get_ecs_types_dynamically(
    distribution: str,
) -> None:
    table = load_table()["fields"]
    mappings = index_mappings(CLUSTERS[distribution], "app")
    rules = _dynamic_rules(mappings)
    assert mappings["date_detection"] is False
    ips = [name for name, entry in table.items() if name.endswith(".ip")]
    assert ips and all(table[name]["type"] == "ip" for name in ips)
    assert rules["*.ip"]["mapping"]["type"] == "ip"
    assert rules["*.ip"]["match_mapping_type"] == "string"
    geo = [name for name in table if name.endswith(".geo.location")]
    assert geo and all(table[name]["type"] == "geo_point" for name in geo)
    assert rules["*.geo.location"]["mapping"]["type"] == "geo_point"
    assert "match_mapping_type" not in rules["*.geo.location"]  # "lat, lon" or {lat, lon}
    # ECS's objects of keywords, and filebeat's for Kubernetes (its template's
    # `kubernetes.labels.*` rule): each key a keyword field of its own.
    objects = [name for name, entry in table.items() if entry.get("object_type") == "keyword"]
    kubernetes = ["kubernetes.labels", "kubernetes.annotations", "kubernetes.node.labels"]
    fields = leaf_fields(mappings)
    for name in objects + kubernetes:
        assert fields[name] == {"type": "object"}, name
        assert rules[f"{name}.*"]["mapping"]["type"] == "keyword", name
    # The catch-all comes last: dynamic templates apply in order, the first match wins.
    assert list(rules)[-1] == "*"
