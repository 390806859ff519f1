"""With the runtime role (`lifecycle.setup_on_start: false`) the indexer makes no Kibana spaces
or OpenSearch Dashboards tenants (and their roles) on demand: those need security privileges,
which belong to the setup path (docs/operations.md, "Elasticsearch privileges")."""

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from indexer.main import _on_demand
from indexer.settings import Settings

URL = "http://127.0.0.1:9"  # never contacted: nothing is submitted


@pytest.mark.parametrize(
    ("section", "flag"),
    [("kibana", "space_per_namespace"), ("dashboards", "tenant_per_namespace")],
)
def test_the_runtime_skips_per_namespace_spaces_and_says_which_command_makes_them(
    section: str, flag: str
) -> None:
    settings = Settings(
        **{section: {"url": URL, flag: True}},  # type: ignore[arg-type]
        lifecycle={"setup_on_start": False},
    )
    with capture_logs() as logs:
        assert _on_demand(settings, threading.Event()) is None
    (skipped,) = [e for e in logs if e["event"] == "on_demand_skipped"]
    assert skipped["target"] == section
    assert f"run `indexer {section} setup`" in skipped["reason"]


def test_data_views_alone_are_still_made_on_demand_by_the_runtime() -> None:
    settings = Settings(kibana={"url": URL}, lifecycle={"setup_on_start": False})
    stop = threading.Event()
    try:
        with capture_logs() as logs:
            assert _on_demand(settings, stop) is not None
        assert not [e for e in logs if e["event"] == "on_demand_skipped"]
    finally:
        stop.set()


def test_with_setup_on_start_spaces_are_made_on_demand_as_before() -> None:
    settings = Settings(kibana={"url": URL, "space_per_namespace": True})
    stop = threading.Event()
    try:
        assert _on_demand(settings, stop) is not None
    finally:
        stop.set()
