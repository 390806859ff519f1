"""The search cluster's dialect, in one module: which product answers, the client that speaks it,
its error bodies, the mapping types it knows, and who manages index lifecycles there.

Elasticsearch 8.x and 9.x are spoken to with the `elasticsearch` 8.x client (it sends
`compatible-with=8` media types, which both accept, and checks `X-Elastic-Product`). OpenSearch
2.x and 3.x are spoken to with `opensearch-py`: the Elasticsearch client cannot talk to them, since
OpenSearch answers its media types with 406 and never sends the product header
(../shared/REAL-CLUSTERS.md §2). Which one is chosen from `GET /` (`version.distribution`), unless
the `elasticsearch.distribution` setting names it.

Everything else in the indexer talks to a `SearchClient` and sees two errors only:
`ClusterError` (the cluster answered, with a non-2xx status and an error body) and
`ClusterUnavailable` (no answer: refused, reset, timed out, TLS failed). Nothing outside this
module branches on the distribution.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import structlog

from indexer.admin.settings import LifecycleSettings
from indexer.redact import redact_text
from indexer.settings import ElasticsearchSettings

Distribution = Literal["elasticsearch", "opensearch"]
Lifecycle = Literal["ilm", "ism", "sweeper", "off"]

ISM_POLICIES = "/_plugins/_ism/policies"
ILM_STATUS = "/_ilm/status"
NDJSON = "application/x-ndjson"
# A bulk answer that reports no errors starts like this (`filter_path` drops `took`, and both
# products write `errors` before `items`). Nothing in its items is read, so it is not parsed:
# for 5,000 documents that parse was most of a writer thread's CPU (py-spy, docs/benchmarks.md).
_NO_ERRORS, _NO_ERRORS_TEXT = b'{"errors":false', '{"errors":false'
_NO_ERROR_ANSWER: dict[str, Any] = {"errors": False}


def no_errors(data: bytes | str) -> dict[str, Any] | None:
    """`{"errors": False}` for a bulk answer without errors, without parsing it; else None."""
    if isinstance(data, bytes):
        found = data.startswith(_NO_ERRORS) and data[15:16] in (b",", b"}")
    else:
        found = data.startswith(_NO_ERRORS_TEXT) and data[15:16] in (",", "}")
    if found:
        return dict(_NO_ERROR_ANSWER)
    return None


log = structlog.get_logger()


class ClusterError(Exception):
    """The cluster answered with a non-2xx status. `error_type` and `reason` are read from the
    error body the way both products write it (`{"error": {"type", "reason"}}`, or a flat body
    such as OpenSearch's 406, or none at all, as Elasticsearch's 413)."""

    def __init__(self, status: int, body: Any, what: str = "") -> None:
        self.status = status
        self.body = body
        self.error_type, self.reason = read_error(status, body)
        super().__init__(f"{what + ': ' if what else ''}{status} {self.error_type}: {self.reason}")


class ClusterUnavailable(Exception):
    """No answer from the cluster (connection refused or reset, timeout, TLS failure)."""


def read_error(status: int, body: Any) -> tuple[str, str]:
    """(type, reason) of an error body of either product."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("type", f"http_{status}")), str(error.get("reason", ""))
        if isinstance(error, str):  # OpenSearch's flat 406 body: {"error": "...", "status": 406}
            return f"http_{status}", error
    if isinstance(body, bytes | str) and body:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return f"http_{status}", text[:500]
    return f"http_{status}", ""


@dataclass(frozen=True)
class Patience:
    """How long a client waits for an answer, and the setting that says so (named in the
    error when the cluster accepts the connection and never answers)."""

    seconds: float
    setting: str

    @staticmethod
    def running(settings: ElasticsearchSettings) -> Patience:
        return Patience(
            settings.request_timeout_seconds, "INDEXER_ELASTICSEARCH__REQUEST_TIMEOUT_SECONDS"
        )

    @staticmethod
    def at_startup(settings: ElasticsearchSettings) -> Patience:
        return Patience(
            settings.startup_timeout_seconds, "INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS"
        )

    def exhausted(self, hosts: list[str]) -> ClusterUnavailable:
        """The error for a request that got no answer in time (connect or read)."""
        return ClusterUnavailable(
            f"no answer from {redact_text(', '.join(hosts))} within {self.seconds:g} s "
            f"({self.setting}): the cluster is overloaded, or the endpoint accepts connections "
            "but does not answer (a proxy or load balancer without a healthy backend?)"
        )


def not_found_hint(hosts: list[str], error: ClusterError) -> ClusterError:
    """`GET /` answered 404: the URL is not the root of a cluster's API. The same error, with
    the URL and what to check."""
    where = redact_text(", ".join(hosts))
    return ClusterError(
        error.status,
        error.body,
        f"GET / on {where} (is it an Elasticsearch or OpenSearch endpoint? a path after the "
        "host in INDEXER_ELASTICSEARCH__HOSTS must be where the cluster's API is served, as a "
        "proxy's path prefix is)",
    )


def not_json(method: str, path: str, detail: object) -> ClusterUnavailable:
    """The error for a 2xx answer that is not JSON (a proxy's HTML page, a truncated body)."""
    where = f" to {method} {path}" if method else ""
    return ClusterUnavailable(
        f"the answer{where} is not JSON (a proxy's login or maintenance page, or a truncated "
        f"body?): {str(detail)[:200]}"
    )


@dataclass(frozen=True)
class ClusterInfo:
    distribution: Distribution
    version: str
    lifecycle: Lifecycle

    @property
    def opensearch(self) -> bool:
        return self.distribution == "opensearch"

    def mappings(self, mappings: dict[str, Any]) -> dict[str, Any]:
        """Mappings in the types this product knows. The files use Elasticsearch's (ECS's) types;
        OpenSearch has no `flattened`, and its `flat_object` plays the same role (one field
        holding any object of keys) and takes no parameters in released 2.x/3.x
        (REAL-CLUSTERS.md §7), so only the type survives. OpenSearch added `match_only_text` in
        2.12 and `wildcard` in 2.15 (docs.opensearch.org, "Match-only text field type",
        "Wildcard field type": "Introduced 2.12" / "Introduced 2.15"); an older 2.x gets the
        nearest type it has (`text` without norms, `keyword`)."""
        if not self.opensearch:
            return mappings
        older = _version_tuple(self.version)
        translated: dict[str, Any] = _translate(copy.deepcopy(mappings), older)
        return translated


def _version_tuple(version: str) -> tuple[int, int]:
    parts = [int(p) for p in version.split("-", maxsplit=1)[0].split(".")[:2] if p.isdigit()]
    major, minor = [*parts, 0, 0][:2]
    return major, minor


def _translate(node: Any, version: tuple[int, int]) -> Any:
    if isinstance(node, dict):
        kind = node.get("type")
        if kind == "flattened":
            return {"type": "flat_object"}
        out = {k: _translate(v, version) for k, v in node.items()}
        if kind == "match_only_text" and version < (2, 12):
            out["type"], out["norms"] = "text", False
        elif kind == "wildcard" and version < (2, 15):
            out["type"] = "keyword"
        return out
    if isinstance(node, list):
        return [_translate(v, version) for v in node]
    return node


class SearchClient:
    """One cluster connection, whichever product. Thread-safe (both clients pool connections)."""

    distribution: Distribution
    version: str

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One JSON request; the parsed body of the answer. ClusterError for any non-2xx."""
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        """HEAD `path`: True on 2xx, False on 404; ClusterError otherwise."""
        raise NotImplementedError

    def bulk(self, body: bytes, filter_path: str) -> Any:
        """POST ready NDJSON to `_bulk`; the parsed (filtered) answer."""
        raise NotImplementedError

    def open_point_in_time(self, indices: str, keep_alive: str) -> str:
        """Open a point in time on `indices` (a comma-separated expression); its id. Each
        product has its own route and answer (below). ClusterError as `request`."""
        raise NotImplementedError

    def close_point_in_time(self, pit_id: str) -> None:
        """Free a point in time (one that expired already is not an error)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _Elasticsearch(SearchClient):
    distribution = "elasticsearch"

    def __init__(
        self, settings: ElasticsearchSettings, version: str, patience: Patience | None = None
    ) -> None:
        from elasticsearch import Elasticsearch
        from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

        class Answers(OrjsonSerializer):
            def loads(self, data: bytes) -> Any:
                answer = no_errors(data)
                return super().loads(data) if answer is None else answer

        class ReadyNdjson(NdjsonSerializer):
            """Bulk bodies are NDJSON bytes already: send them without the stock copy."""

            def dumps(self, data: Any) -> bytes:
                return data if isinstance(data, bytes) else super().dumps(data)

        self._patience = patience or Patience.running(settings)
        self._hosts = settings.hosts
        options: dict[str, Any] = {
            "request_timeout": self._patience.seconds,
            "max_retries": 0,  # the writer retries with its own policy
            "retry_on_timeout": False,
            "http_compress": settings.compress,
            "verify_certs": settings.verify_certs,
            "serializers": {
                OrjsonSerializer.mimetype: Answers(),
                ReadyNdjson.mimetype: ReadyNdjson(),
            },
        }
        if settings.ca_certs is not None:
            options["ca_certs"] = str(settings.ca_certs)
        if settings.api_key is not None:
            options["api_key"] = settings.api_key.get_secret_value()
        elif settings.username is not None and settings.password is not None:
            options["basic_auth"] = (settings.username, settings.password.get_secret_value())
        self._client = Elasticsearch(settings.hosts, **options)
        self.version = version

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from elastic_transport import ConnectionTimeout, TransportError
        from elasticsearch import ApiError, UnsupportedProductError

        try:
            body = fn(*args, **kwargs).body
        except UnsupportedProductError as exc:
            raise ClusterUnavailable(
                "the server is not Elasticsearch (no X-Elastic-Product header); for OpenSearch "
                "set INDEXER_ELASTICSEARCH__DISTRIBUTION=opensearch or leave it on auto"
            ) from exc
        except ApiError as exc:
            raise ClusterError(exc.meta.status, exc.body) from exc
        except ConnectionTimeout as exc:
            raise self._patience.exhausted(self._hosts) from exc
        except TransportError as exc:  # its SerializationError too: a body that is not JSON
            raise ClusterUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if isinstance(body, str):  # a text/plain 2xx: a proxy's page, not the cluster's answer
            raise not_json("", "", body)
        return body

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        return self._call(
            self._client.perform_request,
            method,
            path,
            params=params,
            headers=headers,
            body=body,
        )

    def exists(self, path: str) -> bool:
        # The client answers HEAD with a boolean body (404: False) instead of raising.
        try:
            return bool(self._call(self._client.perform_request, "HEAD", path, headers={}))
        except ClusterError as exc:
            if exc.status == 404:
                return False
            raise

    def bulk(self, body: bytes, filter_path: str) -> Any:
        return self._call(self._client.bulk, operations=body, filter_path=filter_path)

    def open_point_in_time(self, indices: str, keep_alive: str) -> str:
        # `POST /<index>/_pit?keep_alive=` answers `{"id": …}`; `ignore_unavailable` lets a
        # pattern list name days that have no index (elastic.co/docs/api/doc/elasticsearch/
        # operation/operation-open-point-in-time).
        params = {"keep_alive": keep_alive, "ignore_unavailable": "true"}
        return str(self.request("POST", f"/{indices}/_pit", params=params)["id"])

    def close_point_in_time(self, pit_id: str) -> None:
        with _gone_is_fine():
            self.request("DELETE", "/_pit", {"id": pit_id})

    def close(self) -> None:
        self._client.close()


class _OpenSearch(SearchClient):
    distribution = "opensearch"

    def __init__(
        self, settings: ElasticsearchSettings, version: str, patience: Patience | None = None
    ) -> None:
        from opensearchpy import OpenSearch
        from opensearchpy.serializer import JSONSerializer

        class OrjsonJSON(JSONSerializer):
            """orjson parses bulk answers (one item per document) several times faster."""

            def loads(self, s: str | bytes) -> Any:
                answer = no_errors(s)
                return orjson.loads(s) if answer is None else answer

            def dumps(self, data: Any) -> Any:
                return data if isinstance(data, str | bytes) else orjson.dumps(data).decode()

        self._patience = patience or Patience.running(settings)
        self._hosts = settings.hosts
        options: dict[str, Any] = {
            "timeout": self._patience.seconds,
            "max_retries": 0,
            "retry_on_timeout": False,
            "http_compress": settings.compress,
            "verify_certs": settings.verify_certs,
            "ssl_show_warn": settings.verify_certs,
            "serializer": OrjsonJSON(),
        }
        if settings.ca_certs is not None:
            options["ca_certs"] = str(settings.ca_certs)
        if settings.api_key is not None:
            options["headers"] = {"authorization": f"ApiKey {settings.api_key.get_secret_value()}"}
        elif settings.username is not None and settings.password is not None:
            options["http_auth"] = (settings.username, settings.password.get_secret_value())
        self._client = OpenSearch(settings.hosts, **options)
        self.version = version

    def _perform(self, method: str, path: str, **kwargs: Any) -> Any:
        from opensearchpy.exceptions import ConnectionError as NoAnswer
        from opensearchpy.exceptions import ConnectionTimeout, SerializationError, TransportError

        try:
            answer = self._client.transport.perform_request(method, path, **kwargs)
        except ConnectionTimeout as exc:
            raise self._patience.exhausted(self._hosts) from exc
        except NoAnswer as exc:
            raise ClusterUnavailable(f"{type(exc).__name__}: {exc.info or exc}") from exc
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            raise ClusterError(status, exc.info) from exc
        except (SerializationError, orjson.JSONDecodeError) as exc:
            # A 2xx whose body is not JSON: an HTML login or maintenance page of a proxy, a
            # truncated body. Not the cluster's answer: retried as unavailable, never an outcome.
            raise not_json(method, path, exc) from exc
        if isinstance(answer, str) and method != "HEAD":  # text/plain: the same page, as text
            raise not_json(method, path, answer)
        return answer

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        return self._perform(method, path, params=params, body=body)

    def exists(self, path: str) -> bool:
        return bool(self._perform("HEAD", path))

    def bulk(self, body: bytes, filter_path: str) -> Any:
        return self._perform(
            "POST",
            "/_bulk",
            params={"filter_path": filter_path},
            body=body,
            headers={"content-type": NDJSON},
        )

    def open_point_in_time(self, indices: str, keep_alive: str) -> str:
        # OpenSearch 2.4+: `POST /<index>/_search/point_in_time?keep_alive=` answers
        # `{"pit_id": …}`; `DELETE /_search/point_in_time` takes `{"pit_id": [ids]}`
        # (docs.opensearch.org, "Point in Time API"; opensearch-py's `create_pit`/`delete_pit`).
        params = {"keep_alive": keep_alive}
        answer = self.request("POST", f"/{indices}/_search/point_in_time", params=params)
        return str(answer["pit_id"])

    def close_point_in_time(self, pit_id: str) -> None:
        with _gone_is_fine():
            self.request("DELETE", "/_search/point_in_time", {"pit_id": [pit_id]})

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def _gone_is_fine() -> Iterator[None]:
    """A point in time that expired (404) needs no closing."""
    try:
        yield
    except ClusterError as exc:
        if exc.status != 404:
            raise


def connect(settings: ElasticsearchSettings) -> SearchClient:
    """A client for the cluster `settings` name, in its own dialect.

    With `distribution: auto`, `GET /` decides (one request, plain `application/json`, which
    both products accept), waiting at most `startup_timeout_seconds` for the answer. Raises
    ClusterUnavailable when nothing answers in time (the message names the hosts, the timeout
    and its setting), ClusterError when the cluster refuses (401, say; a 404 names the URL and
    what to check): the caller retries, as for any other call.
    """
    distribution = settings.distribution
    probe = _OpenSearch(settings, "unknown", Patience.at_startup(settings))
    try:
        root = probe.request("GET", "/")
    except ClusterError as exc:
        if exc.status == 404:
            raise not_found_hint(settings.hosts, exc) from exc
        raise
    finally:
        probe.close()
    version = root.get("version", {}) if isinstance(root, dict) else {}
    found: Distribution = (
        "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    )
    if distribution != "auto" and distribution != found:  # noqa: PLR1714 (narrows the type)
        log.warning("distribution_overridden", found=found, configured=distribution)
        found = distribution
    number = str(version.get("number", "unknown"))
    client: SearchClient = (
        _OpenSearch(settings, number) if found == "opensearch" else _Elasticsearch(settings, number)
    )
    log.info("cluster_connected", distribution=found, version=number)
    return client


def client_for(settings: ElasticsearchSettings) -> SearchClient:
    """`connect`, without asking `GET /` when `settings.distribution` names the product. A
    reader's key may hold index privileges only, and Elasticsearch answers `GET /` only with
    the `monitor` cluster privilege (`cluster:monitor/main`)."""
    if settings.distribution == "opensearch":
        return _OpenSearch(settings, "unknown")
    if settings.distribution == "elasticsearch":
        return _Elasticsearch(settings, "unknown")
    return connect(settings)


def detect(client: SearchClient, settings: LifecycleSettings) -> ClusterInfo:
    """Who manages lifecycles: the configured mode, or (`auto`) ILM on Elasticsearch and ISM on
    OpenSearch when their endpoint answers, else the indexer's own retention sweeper."""
    lifecycle: Lifecycle
    if settings.mode != "auto":
        lifecycle = settings.mode
    elif client.distribution == "opensearch":
        lifecycle = "ism" if _answers(client, ISM_POLICIES) else "sweeper"
    else:
        lifecycle = "ilm" if _answers(client, ILM_STATUS) else "sweeper"
    log.info(
        "lifecycle_detected",
        distribution=client.distribution,
        version=client.version,
        lifecycle=lifecycle,
        mode=settings.mode,
    )
    return ClusterInfo(client.distribution, client.version, lifecycle)


def _answers(client: SearchClient, path: str) -> bool:
    """Whether the endpoint exists: 400/404/405/501 "no handler" means the feature is absent."""
    try:
        client.request("GET", path)
    except ClusterError as exc:
        if exc.status in (400, 404, 405, 410, 501):
            return False
        if exc.status == 403:
            # Not allowed to look is not "absent"; assume present and let setup report refusals.
            return True
        raise
    return True
