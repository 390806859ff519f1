"""Templates and lifecycle as code: setup, per-namespace retention, shard budget, sweeper."""
