"""The node agent: keeps filebeat's inputs in step with the log tree, rotates and prunes logs.

It imports nothing of Kafka or Elasticsearch. Public helpers for other checks:
`indexer.agent.render.input_for` and `indexer.agent.render.covers`.
"""
