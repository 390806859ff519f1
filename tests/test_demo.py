"""`indexer demo` on both products: the malformed messages are each found where they went and
the counts add up, it runs an `indexer logs` command that reads the logs back, and the
OpenSearch demo shows nothing of Kibana."""

from __future__ import annotations

import subprocess
import sys

import pytest

from indexer.embedded import PRODUCTS, Product

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("product", PRODUCTS)
def test_the_demo_accounts_for_every_message_and_reads_the_logs_back(product: Product) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "indexer", "demo", "--events", "5", "--product", product],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "produced 65 messages = 61 in apps' indices + 1 unmatched + 3 dead letters = 65" in out
    assert "all accounted for" in out
    for what, went in (
        ("not JSON", "dead letter (invalid_json)"),
        ("a JSON array", "dead letter (not_an_object)"),
        ("invalid UTF-8", "dead letter (invalid_utf8)"),
        ("a path no layout matches", "unmatched"),
        ("no @timestamp", "indexed in its app's index"),
    ):
        [line] = [line for line in out.splitlines() if line.strip().startswith(what)]
        assert went in line, line
    ran = out.split("indexer logs payments/api/api-7d4b9c8f6-x0000 --tail 5 -o wide\n", 1)[1]
    lines = ran.split("\n\n", 1)[0].splitlines()
    assert len(lines) == 5 and all(" api-7d4b9c8f6-x0000 " in line for line in lines), lines
    assert "indexer logs payments/api --level error" in out
    assert ("Kibana" in out) == (product == "elasticsearch")
    assert ("OpenSearch Dashboards index patterns" in out) == (product == "opensearch")
    if product == "opensearch":
        assert "k8s-logs-payments_*" in out.split("OpenSearch Dashboards index patterns", 1)[1]
