"""Read a few of an indexer's own Prometheus metrics, to explain its figures (pauses, bulk time)."""

from __future__ import annotations

import contextlib
import http.client

WANTED = (
    "indexer_paused_seconds_total",
    "indexer_bulk_duration_seconds_sum",
    "indexer_bulk_duration_seconds_count",
    "indexer_bulk_items_retried_total",
    "indexer_events_consumed_total",
    "indexer_core_declined_total",
)


def scrape(port: int) -> dict[str, float]:
    """Each wanted metric summed over its labels; {} when the endpoint does not answer."""
    text = ""
    with contextlib.suppress(OSError, http.client.HTTPException):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        base = name.split("{", 1)[0]
        if base in WANTED:
            with contextlib.suppress(ValueError):
                found[base] = found.get(base, 0.0) + float(value)
    return found


def summed(scrapes: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for found in scrapes:
        for key, value in found.items():
            total[key] = total.get(key, 0.0) + value
    return total
