"""filebeat's own counters, read from its HTTP endpoint at scrape time and re-exported.

filebeat's endpoint (`http.enabled`, bound to loopback in deploy/base/node/filebeat.yml) serves
`/stats` as JSON only: `beats: libbeat/api/routes.go` registers `/`, `/state`, `/stats` with a
JSON handler, and the docs show JSON (https://www.elastic.co/docs/reference/beats/filebeat/http-endpoint).
Rather than a third-party exporter sidecar, the agent (same pod, same loopback) reads the few
numbers the alerts need when Prometheus scrapes it, so they are exactly as fresh as the scrape.

Paths in `/stats` (registries `libbeat.output` and `libbeat.pipeline`):
- `beats: libbeat/outputs/metrics.go` (`NewStats`): `events.acked`, `events.failed`,
  `events.dropped`, `write.errors` of the output;
- `beats: libbeat/publisher/pipeline/monitoring.go` (`newMetricsObserver`): `events.published`
  (accepted by the queue) and `events.active` (in the pipeline, not yet acknowledged).
A value missing from the answer is left out (never reported as 0); a failed request is
`indexer_agent_filebeat_up 0`. Counters restart with filebeat: Prometheus' rate() handles that.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PREFIX = "indexer_agent_filebeat_"

# (name without prefix and `_total`, path in /stats, help)
COUNTERS = (
    (
        "output_events_acked",
        ("libbeat", "output", "events", "acked"),
        "Events the output (Kafka) acknowledged (filebeat libbeat.output.events.acked).",
    ),
    (
        "output_events_failed",
        ("libbeat", "output", "events", "failed"),
        "Events the output failed to send; they are retried (libbeat.output.events.failed).",
    ),
    (
        "output_events_dropped",
        ("libbeat", "output", "events", "dropped"),
        "Events the output dropped, e.g. too large (libbeat.output.events.dropped).",
    ),
    (
        "output_write_errors",
        ("libbeat", "output", "write", "errors"),
        "Network write errors of the output (libbeat.output.write.errors).",
    ),
    (
        "pipeline_events_published",
        ("libbeat", "pipeline", "events", "published"),
        "Events the inputs handed to the queue (libbeat.pipeline.events.published).",
    ),
)
GAUGES = (
    (
        "pipeline_events_active",
        ("libbeat", "pipeline", "events", "active"),
        "Events in the pipeline not yet acknowledged (libbeat.pipeline.events.active).",
    ),
)


def metric_names() -> list[str]:
    """Every series name this collector can export (the rules test checks against these)."""
    names = [PREFIX + "up"]
    names += [f"{PREFIX}{name}_total" for name, _, _ in COUNTERS]
    names += [PREFIX + name for name, _, _ in GAUGES]
    return names


class FilebeatStats:
    """A prometheus_client collector; `collect()` blocks for at most `timeout` seconds."""

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout

    def describe(self) -> Iterator[Metric]:
        return iter(())  # no describe-time request: registering must not reach filebeat

    def collect(self) -> Iterator[Metric]:
        stats = self._fetch()
        up = GaugeMetricFamily(PREFIX + "up", "1 when filebeat's /stats answered this scrape.")
        up.add_metric([], 1.0 if stats is not None else 0.0)
        yield up
        if stats is None:
            return
        for name, path, help_text in COUNTERS:
            value = _number(stats, path)
            if value is not None:
                yield CounterMetricFamily(PREFIX + name, help_text, value=value)
        for name, path, help_text in GAUGES:
            value = _number(stats, path)
            if value is not None:
                yield GaugeMetricFamily(PREFIX + name, help_text, value=value)

    def _fetch(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(self._url, timeout=self._timeout) as answer:
                data = json.loads(answer.read(4 << 20))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


def _number(data: dict[str, Any], path: tuple[str, ...]) -> float | None:
    node: Any = data
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if isinstance(node, bool) or not isinstance(node, (int, float)):
        return None
    return float(node)
