"""The Elasticsearch client, built from settings. The client's own retries are off: the bulk
writer retries with its own policy, per item, and never gives up on a document."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from indexer.settings import ElasticsearchSettings


class ReadyNdjsonSerializer(NdjsonSerializer):
    """Bulk bodies are built as NDJSON bytes already: send them as they are, without the copy
    the stock serializer makes."""

    def dumps(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        return super().dumps(data)


# orjson parses bulk responses (one item per document) several times faster than `json`.
SERIALIZERS = {
    OrjsonSerializer.mimetype: OrjsonSerializer(),
    ReadyNdjsonSerializer.mimetype: ReadyNdjsonSerializer(),
}


def create_client(settings: ElasticsearchSettings) -> Elasticsearch:
    options: dict[str, Any] = {
        "request_timeout": settings.request_timeout_seconds,
        "max_retries": 0,
        "retry_on_timeout": False,
        "http_compress": settings.compress,
        "verify_certs": settings.verify_certs,
        "serializers": SERIALIZERS,
    }
    if settings.ca_certs is not None:
        options["ca_certs"] = str(settings.ca_certs)
    if settings.api_key is not None:
        options["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None and settings.password is not None:
        options["basic_auth"] = (settings.username, settings.password.get_secret_value())
    return Elasticsearch(settings.hosts, **options)
