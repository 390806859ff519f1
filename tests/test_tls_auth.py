"""TLS and authentication, for real: the search server behind a TLS front with a test CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.cli import main
from indexer.cluster import ClusterUnavailable, connect
from indexer.embedded import CompatProxy, ServerProcess
from indexer.sample import sources, stream
from indexer.settings import ElasticsearchSettings
from tests.support import (
    IndexerProcess,
    count,
    create_topic,
    days_ago,
    indexer_env,
    log_events,
    produce,
    wait_for,
)
from tests.tls import CertAuthority, TlsFront, make_ca

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


@pytest.fixture
def ca(tmp_path: Path) -> CertAuthority:
    return make_ca(tmp_path)


@pytest.fixture
def tls(ca: CertAuthority, es_proxy: CompatProxy) -> Iterator[TlsFront]:
    front = TlsFront(ca, es_proxy.port).start()
    yield front
    front.stop()


def test_a_verified_tls_connection_with_the_configured_ca_sends_the_api_key(
    tls: TlsFront, ca: CertAuthority, es_proxy: CompatProxy
) -> None:
    settings = ElasticsearchSettings(hosts=[tls.url], ca_certs=ca.ca_cert, api_key=API_KEY)
    client = connect(settings)
    try:
        assert client.request("GET", "/_cluster/health")["status"] in ("green", "yellow")
    finally:
        client.close()
    assert es_proxy.requests, "nothing reached the cluster"
    for recorded in es_proxy.requests:
        headers = {k.lower(): v for k, v in recorded.headers}
        assert headers.get("authorization") == f"ApiKey {API_KEY}", recorded.path


def test_an_untrusted_certificate_is_refused_with_a_clear_error(
    tls: TlsFront, tmp_path: Path, es_proxy: CompatProxy
) -> None:
    stranger = make_ca(tmp_path, "stranger")
    settings = ElasticsearchSettings(hosts=[tls.url], ca_certs=stranger.ca_cert)
    with pytest.raises(ClusterUnavailable, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        connect(settings)
    assert es_proxy.requests == []  # not one request got through


def test_setup_names_the_certificate_problem_and_exits_1(
    tls: TlsFront,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stranger = make_ca(tmp_path, "stranger")
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__HOSTS", f'["{tls.url}"]')
    monkeypatch.setenv("INDEXER_ELASTICSEARCH__CA_CERTS", str(stranger.ca_cert))
    assert main(["setup", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "setup: the cluster did not answer as expected" in err
    assert "CERTIFICATE_VERIFY_FAILED" in err or "certificate verify" in err


# End to end, and the product is the subject: each product has its own client library.
@pytest.mark.slow
@pytest.mark.dialect
def test_the_indexer_indexes_over_tls_with_an_api_key_and_never_logs_the_key(
    kafka: ServerProcess, tls: TlsFront, ca: CertAuthority, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-tls", 1)
    values = [v for _, v in stream(sources(1, 2, 1), 50, days_ago(1))]
    produce(bootstrap, "filebeat-tls", values, partitions=1)
    env = indexer_env(
        bootstrap,
        tls.url,
        INDEXER_ELASTICSEARCH__CA_CERTS=str(ca.ca_cert),
        INDEXER_ELASTICSEARCH__API_KEY=API_KEY,
        INDEXER_LOG__LEVEL="debug",
    )
    indexer = IndexerProcess(env, tmp_path / "i.log").start()
    wait_for(lambda: count(es_proxy.url) >= 50, 60, "every event indexed over TLS")
    assert indexer.stop() == 0
    log = (tmp_path / "i.log").read_text()
    assert log_events(log, "started")
    assert API_KEY not in log
    assert API_KEY.split("=", maxsplit=1)[0][:20] not in log
