"""Kibana objects as code: data views (and, for tenant isolation, spaces and roles) from the
reviewed files in `kibana/`, made by `indexer kibana setup` or, on demand, by the indexer."""
