"""No secret in any output: URL credentials and secret librdkafka options are masked in
`indexer config show`, the exit-2 message and log lines; the Kibana and Dashboards clients never
send their credentials across a redirect to another origin (real HTTP servers on loopback)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from indexer.dashboards.client import DashboardsClient
from indexer.kibana.client import KibanaClient
from indexer.redact import redact_text, secret_kafka_option
from indexer.settings import DashboardsSettings, KibanaSettings
from tests.support import log_events, run_cli


def test_config_show_masks_url_credentials_and_every_secret_kafka_option() -> None:
    options = {
        "sasl.username": "me",
        "sasl.password": "pw-kafka",
        "sasl.oauthbearer.config": "clientId=a clientSecret=oauth-secret",
        "sasl.oauthbearer.client.secret": "client-secret",
        "ssl.key.password": "key-pw",
        "ssl.keystore.password": "store-pw",
    }
    result = run_cli(
        "config",
        "show",
        INDEXER_ELASTICSEARCH__HOSTS="https://elastic:es-pw@es1:9200,https://u:p@ss@es2:9200",
        INDEXER_KIBANA__URL="https://kibana:kb-pw@kibana:5601",
        INDEXER_KAFKA__OPTIONS=json.dumps(options),
    )
    assert result.returncode == 0, result.stderr
    for secret in ("es-pw", "p@ss", "kb-pw", "pw-kafka", "oauth-secret", "client-secret"):
        assert secret not in result.stdout, secret
    assert "key-pw" not in result.stdout and "store-pw" not in result.stdout
    assert "https://**********@es1:9200" in result.stdout
    assert "https://**********@es2:9200" in result.stdout
    assert "https://**********@kibana:5601" in result.stdout
    assert "sasl.username: me" in result.stdout


def test_the_exit_2_message_masks_the_credentials_of_a_refused_url() -> None:
    result = run_cli("config", "show", INDEXER_ELASTICSEARCH__HOSTS="ftp://elastic:es-pw@es:9200")
    assert result.returncode == 2
    assert "es-pw" not in result.stderr
    assert "'ftp://**********@es:9200' is not an http(s):// URL" in result.stderr


@pytest.mark.parametrize(
    "name",
    [
        "sasl.password",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.client.secret",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
        "sasl.jaas.config",
    ],
)
def test_every_password_like_kafka_option_is_secret(name: str) -> None:
    assert secret_kafka_option(name)


@pytest.mark.parametrize("name", ["sasl.username", "security.protocol", "sasl.mechanisms"])
def test_ordinary_kafka_options_are_shown(name: str) -> None:
    assert not secret_kafka_option(name)


def test_text_without_credentials_is_unchanged_and_every_url_in_a_text_is_masked() -> None:
    plain = "GET http://es:9200/_bulk failed; mail ops@example.com"
    assert redact_text(plain) == plain
    assert (
        redact_text("a http://u:p@h1:1/x and https://v@h2 here")
        == "a http://**********@h1:1/x and https://**********@h2 here"
    )


def test_a_log_line_never_carries_url_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    from indexer.log import configure_logging
    from indexer.settings import LogSettings

    configure_logging(LogSettings(format="json"))
    log = structlog.get_logger("test")
    log.info("started", elasticsearch=["https://elastic:es-pw@es:9200"])
    try:
        raise ConnectionError("https://elastic:es-pw@es:9200: refused")
    except ConnectionError:
        log.exception("connect_failed")
    err = capsys.readouterr().err
    assert "es-pw" not in err
    (started,) = log_events(err, "started")
    (failed,) = log_events(err, "connect_failed")
    assert started["elasticsearch"] == ["https://**********@es:9200"]
    assert "https://**********@es:9200: refused" in failed["error"]["stack_trace"]
    assert failed["error"]["message"] == "https://**********@es:9200: refused"


# --- The Kibana and Dashboards clients and redirects ---------------------------------------------


class _Server:
    """A loopback HTTP server that records each request's Authorization header and answers
    with `redirect_to` (302) when set, else 200 `{}`."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.redirect_to: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.seen.append((self.path, self.headers.get("Authorization")))
                if owner.redirect_to is not None and self.path.startswith("/api/"):
                    self.send_response(302)
                    self.send_header("Location", owner.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def two_servers() -> Iterator[tuple[_Server, _Server]]:
    kibana, elsewhere = _Server(), _Server()
    try:
        yield kibana, elsewhere
    finally:
        kibana.close()
        elsewhere.close()


def _client(url: str) -> KibanaClient:
    return KibanaClient(KibanaSettings(url=url, api_key="a2liYW5hOnNlY3JldA=="))


def test_a_redirect_to_another_origin_never_carries_the_credentials(
    two_servers: tuple[_Server, _Server],
) -> None:
    kibana, elsewhere = two_servers
    kibana.redirect_to = elsewhere.url + "/landing"
    answer = _client(kibana.url).request("GET", "/api/status")
    assert answer.status == 200
    assert kibana.seen == [("/api/status", "ApiKey a2liYW5hOnNlY3JldA==")]
    assert elsewhere.seen == [("/landing", None)]


def test_a_redirect_within_the_origin_keeps_the_credentials(
    two_servers: tuple[_Server, _Server],
) -> None:
    kibana, _ = two_servers
    kibana.redirect_to = kibana.url + "/landing"
    _client(kibana.url).request("GET", "/api/status")
    assert kibana.seen == [
        ("/api/status", "ApiKey a2liYW5hOnNlY3JldA=="),
        ("/landing", "ApiKey a2liYW5hOnNlY3JldA=="),
    ]


def test_the_dashboards_client_never_carries_the_credentials_to_another_origin(
    two_servers: tuple[_Server, _Server],
) -> None:
    dashboards, elsewhere = two_servers
    dashboards.redirect_to = elsewhere.url + "/landing"
    client = DashboardsClient(DashboardsSettings(url=dashboards.url, username="u", password="p"))
    assert client.request("GET", "/api/status", tenant="global").status == 200
    assert dashboards.seen == [("/api/status", "Basic dTpw")]
    assert elsewhere.seen == [("/landing", None)]
