"""The dialect module against both test beds: the right client for each product, error bodies
read the way each product writes them, and what happens when the wrong client is forced."""

from __future__ import annotations

import pytest

from indexer.cluster import ClusterError, ClusterInfo, ClusterUnavailable, connect, read_error
from indexer.embedded import CompatProxy, Product, Reply
from indexer.settings import ElasticsearchSettings


def _settings(url: str, distribution: str = "auto") -> ElasticsearchSettings:
    return ElasticsearchSettings(hosts=[url], distribution=distribution, request_timeout_seconds=5)


def test_get_root_picks_the_client_of_the_product_that_answers(
    es_proxy: CompatProxy, product: Product
) -> None:
    client = connect(_settings(es_proxy.url))
    try:
        assert client.distribution == product
        assert client.version == ("8.19.0" if product == "elasticsearch" else "3.8.0")
        client.request("PUT", "/k8s-logs-a_b-2026.01.01")
        assert client.exists("/k8s-logs-a_b-2026.01.01")
        assert not client.exists("/k8s-logs-a_b-2026.01.02")
        body = b'{"create":{"_index":"k8s-logs-a_b-2026.01.01","_id":"x"}}\n{"message":"hi"}\n'
        # Without errors the items are not parsed (cluster.loads_answer), through either client.
        assert client.bulk(body, "errors,items.*.status") == {"errors": False}
        assert client.bulk(body, "errors,items.*.status") == {
            "errors": True,
            "items": [{"create": {"status": 409}}],
        }
    finally:
        client.close()


@pytest.mark.parametrize("product", ["opensearch"])
def test_the_elasticsearch_client_forced_on_opensearch_fails_with_a_clear_reason(
    es_proxy: CompatProxy,
) -> None:
    client = connect(_settings(es_proxy.url, "elasticsearch"))
    # OpenSearch refuses its media types (406) and never sends X-Elastic-Product.
    with pytest.raises((ClusterError, ClusterUnavailable)) as caught:
        client.request("PUT", "/_index_template/x", {"index_patterns": ["x-*"]})
    assert "406" in str(caught.value) or "not Elasticsearch" in str(caught.value)
    with pytest.raises(ClusterUnavailable, match="not Elasticsearch"):
        client.request("GET", "/_cluster/health")
    client.close()


def test_an_empty_bodied_413_that_closes_the_connection_is_a_413_for_either_client(
    es_proxy: CompatProxy,
) -> None:
    client = connect(_settings(es_proxy.url))
    # Elasticsearch's own 413: no body, Content-Length 0, Connection: close (REAL-CLUSTERS.md §8).
    es_proxy.fault = lambda m, p, b: Reply(413, b"", close=True) if "_bulk" in p else None
    with pytest.raises(ClusterError) as caught:
        client.bulk(b'{"create":{"_index":"a","_id":"1"}}\n{}\n', "errors")
    assert (caught.value.status, caught.value.error_type) == (413, "http_413")
    es_proxy.fault = None
    assert client.exists("/")  # the client recovered its connection
    client.close()


def test_nothing_listening_is_unavailable_not_an_error() -> None:
    with pytest.raises(ClusterUnavailable):
        connect(_settings("http://127.0.0.1:9"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"type": "cluster_block_exception", "reason": "index [a] blocked by: x"}},
            ("cluster_block_exception", "index [a] blocked by: x"),
        ),
        (
            {
                "error": "Content-Type header [application/vnd.elasticsearch+json; "
                "compatible-with=8] is not supported",
                "status": 406,
            },
            (
                "http_406",
                "Content-Type header [application/vnd.elasticsearch+json; "
                "compatible-with=8] is not supported",
            ),
        ),
        (b"", ("http_406", "")),
        (
            "<html>413 Request Entity Too Large</html>",
            ("http_406", "<html>413 Request Entity Too Large</html>"),
        ),
    ],
)
def test_error_bodies_of_both_products_are_read(body: object, expected: tuple[str, str]) -> None:
    assert read_error(406, body) == expected


def test_opensearch_mappings_get_flat_object_without_parameters() -> None:
    mappings = {"properties": {"labels": {"type": "flattened", "ignore_above": 8191}}}
    opensearch = ClusterInfo("opensearch", "3.8.0", "sweeper")
    elastic = ClusterInfo("elasticsearch", "8.19.0", "ilm")
    assert opensearch.mappings(mappings) == {"properties": {"labels": {"type": "flat_object"}}}
    assert elastic.mappings(mappings) == mappings


def test_an_opensearch_older_than_the_ecs_types_gets_the_nearest_types_it_has() -> None:
    stack = {"type": "wildcard", "fields": {"text": {"type": "match_only_text"}}}
    mappings = {"properties": {"message": {"type": "match_only_text"}, "stack": stack}}
    assert ClusterInfo("opensearch", "2.15.0", "ism").mappings(mappings) == mappings
    assert ClusterInfo("opensearch", "2.12.1", "ism").mappings(mappings) == {
        "properties": {
            "message": {"type": "match_only_text"},
            "stack": {"type": "keyword", "fields": {"text": {"type": "match_only_text"}}},
        }
    }
    text = {"type": "text", "norms": False}
    assert ClusterInfo("opensearch", "2.11.0", "ism").mappings(mappings) == {
        "properties": {"message": text, "stack": {"type": "keyword", "fields": {"text": text}}}
    }
