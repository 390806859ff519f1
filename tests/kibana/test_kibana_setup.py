"""`indexer kibana setup` against the recording Kibana (tests/kibana_server.py): the requests,
idempotence, version upgrades, objects not ours, spaces and roles, dry runs and failures."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.cli import main
from indexer.kibana.objects import read_sources
from indexer.settings import DEFAULT_KIBANA_DIR
from tests.kibana_server import RecordingKibana
from tests.setup_command import run_setup

REPO = Path(__file__).resolve().parents[2]
GLOBAL_VIEWS = {"k8s-logs-all", "k8s-logs-deadletter", "k8s-logs-unmatched"}


@pytest.fixture
def kibana() -> Iterator[RecordingKibana]:
    with RecordingKibana() as server:
        yield server


def setup(
    capsys: pytest.CaptureFixture[str], *args: str, namespaces: tuple[str, ...] = ("shop", "pay")
) -> tuple[int, str, str]:
    return run_setup(capsys, "kibana", args, namespaces)


def test_the_repository_kibana_directory_is_the_packaged_files() -> None:
    assert (REPO / "kibana").resolve() == DEFAULT_KIBANA_DIR
    kinds = {(s.kind, s.name) for s in read_sources(DEFAULT_KIBANA_DIR)}
    assert kinds == {
        ("data_view", "all"),
        ("data_view", "deadletter"),
        ("data_view", "namespace"),
        ("data_view", "unmatched"),
        ("space", "namespace"),
        ("role", "namespace"),
    }


def test_setup_creates_one_data_view_per_namespace_and_the_global_ones(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = setup(capsys, "--url", kibana.url)
    assert code == 0, out
    assert [(r.method, r.path) for r in kibana.requests] == [
        ("GET", "/api/data_views"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
    ]
    for request in kibana.requests:
        assert request.headers["kbn-xsrf"] == "true"
        assert request.headers["elastic-api-version"] == "2023-10-31"
        assert "authorization" not in request.headers
    titles = {r.body["data_view"]["id"]: r.body["data_view"]["title"] for r in kibana.writes()}
    assert titles == {
        "k8s-logs-all": "k8s-logs-*_*",
        "k8s-logs-deadletter": "k8s-logs-deadletter-*",
        "k8s-logs-unmatched": "k8s-logs-unmatched-*",
        "k8s-logs-ns-pay": "k8s-logs-pay_*",
        "k8s-logs-ns-shop": "k8s-logs-shop_*",
    }
    for write in kibana.writes():
        spec = write.body["data_view"]
        assert spec["timeFieldName"] == "@timestamp"
        assert spec["typeMeta"] == {"managed_by": "log-indexer", "version": 1}
    assert set(kibana.views()) == set(titles)
    assert "data view k8s-logs-ns-shop: created (k8s-logs-shop_* in space default)" in out


def test_a_second_run_sends_no_write(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup(capsys, "--url", kibana.url)[0] == 0
    kibana.clear()
    code, out, _ = setup(capsys, "--url", kibana.url)
    assert code == 0
    assert [(r.method, r.path) for r in kibana.requests] == [("GET", "/api/data_views")]
    assert out.count(": unchanged (v1 in space default)") == 5


def test_an_older_version_of_ours_is_updated_and_the_rest_left_as_they_are(
    kibana: RecordingKibana,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert setup(capsys, "--url", kibana.url)[0] == 0
    objects = tmp_path / "kibana"
    shutil.copytree(DEFAULT_KIBANA_DIR, objects)
    file = objects / "data_views" / "namespace.json"
    body = json.loads(file.read_text())
    body["version"] = 2
    body["data_view"]["name"] = "{prefix} logs of {namespace}"
    file.write_text(json.dumps(body))
    monkeypatch.setenv("INDEXER_KIBANA__OBJECTS_DIR", str(objects))
    kibana.clear()

    code, out, _ = setup(capsys, "--url", kibana.url)
    assert code == 0
    writes = kibana.writes()
    assert sorted(w.path for w in writes) == [
        "/api/data_views/data_view/k8s-logs-ns-pay",
        "/api/data_views/data_view/k8s-logs-ns-shop",
    ]
    change = next(w for w in writes if w.path.endswith("shop")).body["data_view"]
    assert "id" not in change  # the update route's schema has no id
    assert change["typeMeta"] == {"managed_by": "log-indexer", "version": 2}
    assert kibana.views()["k8s-logs-ns-shop"]["name"] == "k8s-logs logs of shop"
    assert "data view k8s-logs-ns-shop: updated (v1 -> v2 in space default)" in out
    kibana.clear()
    assert setup(capsys, "--url", kibana.url)[0] == 0
    assert kibana.writes() == []


def test_data_views_not_ours_are_left_alone_and_the_output_says_so(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    views = kibana.state.data_views.setdefault("default", {})
    views["k8s-logs-ns-shop"] = {"id": "k8s-logs-ns-shop", "title": "k8s-logs-shop*", "name": "x"}
    views["theirs"] = {"id": "theirs", "title": "k8s-logs-*_*", "name": "Everything"}
    code, out, _ = setup(capsys, "--url", kibana.url)
    assert code == 0
    created = {w.body["data_view"]["id"] for w in kibana.writes()}
    assert created == {"k8s-logs-deadletter", "k8s-logs-unmatched", "k8s-logs-ns-pay"}
    assert views["k8s-logs-ns-shop"] == {
        "id": "k8s-logs-ns-shop",
        "title": "k8s-logs-shop*",
        "name": "x",
    }
    assert (
        "data view k8s-logs-ns-shop: foreign (id k8s-logs-ns-shop in space default is not "
        "managed by log-indexer)" in out
    )
    assert "data view k8s-logs-all: foreign (data view theirs in space default has the title" in out


def test_space_per_namespace_makes_a_space_a_data_view_in_it_and_a_role_reading_only_it(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = setup(capsys, "--url", kibana.url, "--space-per-namespace")
    assert code == 0, out
    writes = [(w.method, w.path) for w in kibana.writes()]
    assert writes == [
        ("POST", "/api/spaces/space"),
        ("POST", "/api/spaces/space"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/api/data_views/data_view"),
        ("POST", "/s/k8s-logs-pay/api/data_views/data_view"),
        ("POST", "/s/k8s-logs-shop/api/data_views/data_view"),
        ("PUT", "/api/security/role/k8s-logs-pay-reader?createOnly=true"),
        ("PUT", "/api/security/role/k8s-logs-shop-reader?createOnly=true"),
    ]
    assert set(kibana.views("k8s-logs-shop")) == {"k8s-logs-ns-shop"}
    assert set(kibana.views()) == GLOBAL_VIEWS
    space = kibana.state.spaces["k8s-logs-shop"]
    assert space["name"] == "shop"
    role: dict[str, Any] = kibana.state.roles["k8s-logs-shop-reader"]
    assert role["elasticsearch"]["indices"] == [
        {"names": ["k8s-logs-shop_*"], "privileges": ["read", "view_index_metadata"]}
    ]
    assert role["kibana"] == [{"base": ["read"], "feature": {}, "spaces": ["k8s-logs-shop"]}]
    assert role["metadata"] == {"managed_by": "log-indexer", "version": 1}

    kibana.clear()
    code, out, _ = setup(capsys, "--url", kibana.url, "--space-per-namespace")
    assert code == 0
    assert kibana.writes() == []
    assert "space k8s-logs-shop: unchanged" in out
    assert "role k8s-logs-shop-reader: unchanged (v1)" in out


def test_a_space_or_role_of_our_name_that_is_not_ours_is_left_alone(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.state.spaces["k8s-logs-shop"] = {"id": "k8s-logs-shop", "name": "Shop team"}
    kibana.state.roles["k8s-logs-pay-reader"] = {"metadata": {}, "elasticsearch": {}}
    code, out, _ = setup(capsys, "--url", kibana.url, "--space-per-namespace")
    assert code == 0
    paths = [w.path for w in kibana.writes()]
    assert "/s/k8s-logs-shop/api/data_views/data_view" not in paths
    assert not any("reader" in p for p in paths if "shop" in p or "pay" in p)
    assert kibana.state.spaces["k8s-logs-shop"] == {"id": "k8s-logs-shop", "name": "Shop team"}
    assert "space k8s-logs-shop: foreign (not managed by log-indexer)" in out
    assert "role k8s-logs-shop-reader: skipped (its space exists and is not managed" in out
    assert "role k8s-logs-pay-reader: foreign (not managed by log-indexer)" in out
    assert set(kibana.views("k8s-logs-pay")) == {"k8s-logs-ns-pay"}


def test_dry_run_prints_the_requests_and_sends_none(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = setup(capsys, "--url", kibana.url, "--dry-run", "--space-per-namespace")
    assert code == 0
    assert kibana.requests == []
    assert "POST /s/k8s-logs-shop/api/data_views/data_view " in out
    line = next(x for x in out.splitlines() if x.startswith("POST /api/data_views/data_view "))
    body = json.loads(line.split(" ", 2)[2])
    assert body["data_view"]["timeFieldName"] == "@timestamp"
    assert "PUT /api/security/role/k8s-logs-shop-reader?createOnly=true " in out


def test_api_key_and_basic_auth_are_sent(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert setup(capsys, "--url", kibana.url, "--api-key", "aWQ6a2V5")[0] == 0
    assert {r.headers["authorization"] for r in kibana.requests} == {"ApiKey aWQ6a2V5"}
    kibana.clear()
    monkeypatch.setenv("INDEXER_KIBANA__PASSWORD", "secret")
    assert setup(capsys, "--url", kibana.url, "--username", "elastic")[0] == 0
    assert {r.headers["authorization"] for r in kibana.requests} == {"Basic ZWxhc3RpYzpzZWNyZXQ="}


def test_a_kibana_answering_500_fails_with_one_line_and_status_1(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    kibana.fail_with = 500
    code, out, err = setup(capsys, "--url", kibana.url)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert "answered 500: An internal server error occurred." in err


def test_an_unreachable_kibana_fails_with_one_line_and_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RecordingKibana() as gone:
        url = gone.url
    code, _, err = setup(capsys, "--url", url)
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"kibana setup: Kibana at {url} failed: GET {url}/api/data_views")


def test_without_namespaces_given_they_come_from_the_cluster_index_names(
    kibana: RecordingKibana,
    capsys: pytest.CaptureFixture[str],
    es_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.support import cluster, days_ago

    es = cluster(es_url)
    day = days_ago(1).strftime("%Y.%m.%d")
    for index in ("shop_cart", "ops__shared", "deadletter", "unmatched"):
        es.request("PUT", f"/k8s-logs-{index}-{day}")
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", json.dumps([es_url]))
    code, out, _ = setup(capsys, "--url", kibana.url, namespaces=())
    assert code == 0, out
    assert set(kibana.views()) == GLOBAL_VIEWS | {"k8s-logs-ns-shop", "k8s-logs-ns-ops"}


def test_a_view_id_taken_in_another_space_is_reported_not_hidden(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert setup(capsys, "--url", kibana.url, namespaces=("shop",))[0] == 0
    code, out, _ = setup(capsys, "--url", kibana.url, "--space-per-namespace", namespaces=("shop",))
    assert code == 0
    assert "k8s-logs-ns-shop" not in kibana.views("k8s-logs-shop")
    assert (
        "data view k8s-logs-ns-shop: foreign (Kibana refused it in space k8s-logs-shop: POST "
        "/s/k8s-logs-shop/api/data_views/data_view answered 400: Saved object "
        "[index-pattern/k8s-logs-ns-shop] conflict)" in out
    )


def test_templates_validate_checks_the_kibana_files_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = tmp_path / "kibana"
    shutil.copytree(DEFAULT_KIBANA_DIR, objects)
    file = objects / "data_views" / "all.json"
    body = json.loads(file.read_text())
    body["data_view"]["timeFieldName"] = "event.created"
    file.write_text(json.dumps(body))
    monkeypatch.setenv("INDEXER_KIBANA__OBJECTS_DIR", str(objects))
    assert main(["templates", "validate"]) == 1
    err = capsys.readouterr().err
    assert f"{file}: data_view.timeFieldName must be @timestamp" in err


def test_https_kibana_is_verified_with_the_configured_ca(
    kibana: RecordingKibana,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.tls import TlsFront, make_ca

    ca = make_ca(tmp_path)
    front = TlsFront(ca, int(kibana.url.rsplit(":", 1)[1])).start()
    try:
        code, _, err = setup(capsys, "--url", front.url)
        assert code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in err and err.count("\n") == 1
        assert kibana.requests == []
        monkeypatch.setenv("INDEXER_KIBANA__CA_CERTS", str(ca.ca_cert))
        code, out, _ = setup(capsys, "--url", front.url)
        assert code == 0, out
        assert set(kibana.views()) == GLOBAL_VIEWS | {"k8s-logs-ns-shop", "k8s-logs-ns-pay"}
    finally:
        front.stop()


@pytest.mark.parametrize("namespace", ["shop*", "shop,pay", "Shop", "shop-", "shop_*", "*"])
def test_a_namespace_routing_would_not_accept_is_refused_before_any_request(
    kibana: RecordingKibana, capsys: pytest.CaptureFixture[str], namespace: str
) -> None:
    code, _, err = setup(capsys, "--url", kibana.url, namespaces=(namespace,))
    assert code == 2
    assert f"{namespace!r} is not a Kubernetes namespace name" in err
    assert "no wildcards" in err
    assert kibana.requests == []
