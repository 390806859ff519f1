"""`indexer dashboards setup` against the recording OpenSearch Dashboards and security plugin
(tests/dashboards_server.py): the requests, idempotence, version upgrades, objects not ours,
tenants and roles, a cluster without the security plugin, dry runs and failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.dashboards.objects import read_sources, type_meta
from indexer.embedded import free_port
from indexer.settings import DEFAULT_DASHBOARDS_DIR
from tests.dashboards_server import RecordingDashboards
from tests.setup_command import run_setup

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def osd(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingDashboards]:
    with RecordingDashboards() as server:
        # The security plugin's API is the cluster's: the same recording server plays it.
        monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", json.dumps([server.url]))
        monkeypatch.setenv("INDEXER_ELASTICSEARCH__DISTRIBUTION", "opensearch")
        yield server


def setup(
    capsys: pytest.CaptureFixture[str], *args: str, namespaces: tuple[str, ...] = ("shop", "pay")
) -> tuple[int, str, str]:
    return run_setup(capsys, "dashboards", args, namespaces)


def test_the_repository_dashboards_directory_is_the_packaged_files() -> None:
    assert (REPO / "dashboards").resolve() == DEFAULT_DASHBOARDS_DIR
    kinds = {(s.kind, s.name) for s in read_sources(DEFAULT_DASHBOARDS_DIR)}
    assert kinds == {
        ("index_pattern", "all"),
        ("index_pattern", "deadletter"),
        ("index_pattern", "namespace"),
        ("index_pattern", "unmatched"),
        ("tenant", "namespace"),
        ("role", "namespace"),
    }


def test_setup_creates_the_index_patterns_once_and_a_second_run_writes_nothing(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = setup(capsys, "--url", osd.url)
    assert code == 0, err
    assert [(r.method, r.path) for r in osd.requests] == [
        ("GET", "/api/saved_objects/_find?type=index-pattern&per_page=1000"),
        *[("POST", f"/api/saved_objects/index-pattern/k8s-logs-{n}") for n in (
            "all", "deadletter", "unmatched", "ns-pay", "ns-shop"
        )],
    ]  # fmt: skip
    for request in osd.requests:
        assert request.headers["osd-xsrf"] == "true"
        assert request.headers["securitytenant"] == "global"
    titles = {i: o["attributes"]["title"] for i, o in osd.patterns().items()}
    assert titles == {
        "k8s-logs-all": "k8s-logs-*_*",
        "k8s-logs-deadletter": "k8s-logs-deadletter-*",
        "k8s-logs-unmatched": "k8s-logs-unmatched-*",
        "k8s-logs-ns-pay": "k8s-logs-pay_*",
        "k8s-logs-ns-shop": "k8s-logs-shop_*",
    }
    assert all(o["attributes"]["timeFieldName"] == "@timestamp" for o in osd.patterns().values())
    assert "index pattern k8s-logs-ns-shop: created" in out
    osd.clear()
    code, out, _ = setup(capsys, "--url", osd.url)
    assert code == 0 and osd.writes() == []
    assert out.count(": unchanged") == 5


def test_an_older_version_is_updated_a_newer_one_and_foreign_ones_left_alone(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = osd.state.patterns.setdefault("global", {})
    stored["k8s-logs-all"] = {
        "id": "k8s-logs-all",
        "type": "index-pattern",
        "attributes": {"title": "k8s-logs-*_*", "typeMeta": '{"managed_by": "log-indexer"}'},
    }
    stored["k8s-logs-deadletter"] = {
        "id": "k8s-logs-deadletter",
        "type": "index-pattern",
        "attributes": {"title": "k8s-logs-deadletter-*", "typeMeta": type_meta(7)},
    }
    stored["theirs"] = {
        "id": "theirs",
        "type": "index-pattern",
        "attributes": {"title": "k8s-logs-shop_*", "timeFieldName": "ts"},
    }
    stored["k8s-logs-unmatched"] = {
        "id": "k8s-logs-unmatched",
        "type": "index-pattern",
        "attributes": {"title": "k8s-logs-unmatched-*"},
    }
    code, out, err = setup(capsys, "--url", osd.url)
    assert code == 0, err
    assert "index pattern k8s-logs-all: updated (v0 -> v1 in tenant global)" in out
    assert "index pattern k8s-logs-deadletter: newer (v7 in tenant global)" in out
    assert "index pattern k8s-logs-unmatched: foreign" in out
    assert "index pattern k8s-logs-ns-shop: foreign (index pattern theirs" in out
    assert osd.patterns()["theirs"]["attributes"]["timeFieldName"] == "ts"
    assert "typeMeta" not in osd.patterns()["k8s-logs-unmatched"]["attributes"]
    assert [r.path.rsplit("/", 1)[1] for r in osd.writes()] == ["k8s-logs-all", "k8s-logs-ns-pay"]


def test_a_tenant_and_a_role_per_namespace_read_exactly_its_indices(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    osd.state.tenants["k8s-logs-pay"] = {"description": "someone else's"}
    code, out, err = setup(capsys, "--url", osd.url, "--tenant-per-namespace")
    assert code == 0, err
    assert osd.state.tenants["k8s-logs-shop"] == {
        "description": "Logs of Kubernetes namespace shop (managed by log-indexer)"
    }
    role = osd.state.roles["k8s-logs-shop-reader"]
    assert role["index_permissions"] == [
        {"index_patterns": ["k8s-logs-shop_*"], "allowed_actions": ["read"]}
    ]
    assert role["tenant_permissions"] == [
        {"tenant_patterns": ["k8s-logs-shop"], "allowed_actions": ["kibana_all_read"]}
    ]
    assert role["cluster_permissions"] == []
    assert set(osd.patterns("k8s-logs-shop")) == {"k8s-logs-ns-shop"}
    assert set(osd.patterns()) == {"k8s-logs-all", "k8s-logs-deadletter", "k8s-logs-unmatched"}
    # The tenant that is not ours gets neither our index pattern nor our role.
    assert "tenant k8s-logs-pay: foreign" in out
    assert "index pattern k8s-logs-ns-pay: skipped" in out
    assert "role k8s-logs-pay-reader: skipped" in out
    assert "k8s-logs-pay-reader" not in osd.state.roles
    assert osd.patterns("k8s-logs-pay") == {}

    osd.clear()
    code, out, _ = setup(capsys, "--url", osd.url, "--tenant-per-namespace")
    assert code == 0 and osd.writes() == []
    # A role of ours at an older version is replaced; one not ours is left alone.
    osd.state.roles["k8s-logs-shop-reader"]["description"] = "x (managed by log-indexer, version 0)"
    osd.state.roles["k8s-logs-shop-reader"]["index_permissions"] = []
    code, out, _ = setup(capsys, "--url", osd.url, "--tenant-per-namespace", namespaces=("shop",))
    assert "role k8s-logs-shop-reader: updated (v0 -> v1)" in out
    assert osd.state.roles["k8s-logs-shop-reader"]["index_permissions"] != []


def test_without_the_security_plugin_tenants_and_roles_are_skipped_and_said_so(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    osd.security_plugin = False
    code, out, err = setup(capsys, "--url", osd.url, "--tenant-per-namespace")
    assert code == 0, err
    assert "tenant k8s-logs-shop: skipped (the cluster has no security plugin)" in out
    assert "role k8s-logs-shop-reader: skipped (the cluster has no security plugin)" in out
    assert set(osd.patterns()) == {"k8s-logs-all", "k8s-logs-deadletter", "k8s-logs-unmatched"}


def test_a_dry_run_sends_nothing_and_lists_the_writes(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = setup(capsys, "--dry-run", "--tenant-per-namespace", namespaces=("shop",))
    assert code == 0
    assert osd.requests == []
    assert "PUT /_plugins/_security/api/tenants/k8s-logs-shop" in out
    assert "POST /api/saved_objects/index-pattern/k8s-logs-ns-shop" in out
    assert "PUT /_plugins/_security/api/roles/k8s-logs-shop-reader" in out


def test_unreachable_dashboards_and_a_missing_url_are_one_line(
    osd: RecordingDashboards, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = setup(capsys, "--url", f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "dashboards setup: Dashboards at" in err
    code, _, err = setup(capsys)
    assert code == 2 and "no Dashboards URL" in err
