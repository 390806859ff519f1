"""The body of the create-index request: the constants of one index, for Kibana.

Each app index holds exactly one namespace and one app, so `data_stream.type` (`logs`),
`data_stream.dataset` (the app, as in the index name), `data_stream.namespace` and
`event.dataset` are the same for every document in it. They go into the index's own mappings
when the preparer creates it, never into documents: no per-document bytes, and no per-app
template. The request's mappings are merged after the templates' and replace their definition
of a field (Elasticsearch and OpenSearch: `ObjectMapper` merges with reason `INDEX_TEMPLATE`,
"a field definition always replaces an existing one"), so the templates keep them as plain
`keyword` for an index created some other way.

- Elasticsearch: `constant_keyword` with the value, ECS's type (ecs_flat.yml).
- The shared index (`<ns>__shared`, several apps): `type` and `namespace` are constants; the
  dataset is a field `alias` of `service.name` (the label's own spelling: `Cart-API` where the
  app indices say `cart-api`), which is searchable and costs nothing per document either.
- OpenSearch: its `constant_keyword` (2.14+) answers terms aggregations with the index name and
  refuses to fetch values (`ConstantKeywordFieldMapper.java`: `ConstantIndexFieldData.Builder(
  fullyQualifiedIndexName, ...)`, `valueFetcher` throws), so there the dataset and namespace are
  aliases of `service.name` and `kubernetes.namespace`, and `data_stream.type` stays unset.
- Dead-letter and unmatched indices map nothing dynamically and hold no app: no body.

None of this makes an index a data stream: Elasticsearch makes one only when the matching index
template has `data_stream: {}` (docs/templates.md, "Not data streams").
"""

from __future__ import annotations

from typing import Any

from indexer.admin.naming import parse_index
from indexer.cluster import ClusterInfo

DATA_STREAM_TYPE = "logs"


def create_body(cluster: ClusterInfo, prefix: str, index: str) -> dict[str, Any] | None:
    """The create-index body for `index`, or None when it needs none."""
    owned = parse_index(prefix, index)
    if owned is None or owned.namespace is None:
        return None
    properties: dict[str, Any] = {}
    dataset: dict[str, Any]
    if cluster.opensearch:
        dataset = _alias(properties, "service", "name")
        stream = {"dataset": dataset, "namespace": _alias(properties, "kubernetes", "namespace")}
    else:
        app = owned.app
        dataset = _alias(properties, "service", "name") if app is None else _constant(app)
        stream = {
            "type": _constant(DATA_STREAM_TYPE),
            "dataset": dataset,
            "namespace": _constant(owned.namespace),
        }
    properties["data_stream"] = {"properties": stream}
    properties["event"] = {"properties": {"dataset": dataset}}
    return {"mappings": {"properties": properties}}


def _constant(value: str) -> dict[str, Any]:
    return {"type": "constant_keyword", "value": value}


def _alias(properties: dict[str, Any], parent: str, name: str) -> dict[str, Any]:
    """An alias of `parent.name`, which the body maps too, as the templates do: an alias must
    name a mapped field, and a template of someone else's above ours may not map it."""
    properties[parent] = {"properties": {name: {"type": "keyword", "ignore_above": 1024}}}
    return {"type": "alias", "path": f"{parent}.{name}"}
