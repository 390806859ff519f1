"""The runtime's start-up check (indexer/admin/runtime_check.py) against osmem: it waits for
setup, names what is missing and the fix, and never changes anything itself."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from indexer.admin.errors import SetupError
from indexer.admin.runtime_check import check_runtime
from indexer.admin.setup import run_setup
from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy, Reply

from .conftest import make_settings, sent

TEMPLATES = ("k8s-logs-apps", "k8s-logs-deadletter", "k8s-logs-unmatched")


def test_before_setup_every_missing_template_and_the_fix_are_named(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    settings = make_settings(es_url, setup_on_start=False)
    with pytest.raises(SetupError) as refused:
        check_runtime(client, settings)
    for name in TEMPLATES:
        assert name in str(refused.value)
    assert "run `indexer setup`" in str(refused.value)
    assert [m for m, _, _ in sent(es_proxy)] == ["GET"] * len(sent(es_proxy))  # reads only

    run_setup(client, settings)
    es_proxy.requests.clear()
    assert check_runtime(client, settings).lifecycle == "sweeper"
    assert {m for m, _, _ in sent(es_proxy)} == {"GET"}


def test_a_template_of_our_name_that_is_not_ours_counts_as_missing(
    client: SearchClient, es_url: str
) -> None:
    settings = make_settings(es_url, setup_on_start=False)
    run_setup(client, settings)
    client.request(
        "PUT",
        "/_index_template/k8s-logs-unmatched",
        {"index_patterns": ["k8s-logs-unmatched-*"], "priority": 530},
    )
    with pytest.raises(SetupError, match="not ours: k8s-logs-unmatched: run `indexer setup`"):
        check_runtime(client, settings)


def test_a_role_that_may_not_read_templates_starts_and_says_it_could_not_check(
    client: SearchClient, es_url: str, es_proxy: CompatProxy
) -> None:
    error = {"type": "security_exception", "reason": "action [indices:admin/index_template/get]"}
    forbidden = Reply(403, json.dumps({"error": error, "status": 403}).encode())
    es_proxy.fault = lambda m, p, b: forbidden if p.startswith("/_index_template/") else None
    with capture_logs() as logs:
        check_runtime(client, make_settings(es_url, setup_on_start=False))
    assert [e["template"] for e in logs if e["event"] == "templates_unchecked"] == ["k8s-logs-apps"]
