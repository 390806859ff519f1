"""Kafka (filebeat) → Elasticsearch log indexer for Kubernetes, and its node agent."""

__version__ = "0.1.0"
