"""OpenSearch Dashboards objects as code: `indexer dashboards setup` (what indexer/kibana/ does
for Kibana). It has not met a real OpenSearch Dashboards: its tests use a recording server that
answers as the documentation says (tests/dashboards_server.py)."""
