"""What Kibana (indexer/kibana/) and OpenSearch Dashboards (indexer/dashboards/) objects as code
share: the versioned object files, the report of one setup, the HTTP plumbing and the on-demand
worker. Each product keeps its own APIs, headers and tenancy (spaces vs tenants) in its package."""
