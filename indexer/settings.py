"""Every setting of the indexer, declared once.

Sources, strongest first: keyword arguments, environment variables (`INDEXER_` prefix, `__` between
nesting levels, e.g. `INDEXER_KAFKA__BOOTSTRAP_SERVERS`), a YAML file given with `--config`, then
the defaults below, which work out of the box against a local broker and cluster.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from indexer.admin.settings import LifecycleSettings
from indexer.agent.settings import AgentSettings

ENV_PREFIX = "INDEXER_"
ENV_NESTING = "__"

# Index patterns Elasticsearch, Fleet and OpenSearch install or reserve (../shared/REAL-CLUSTERS.md
# §1): an index of ours matching one of them would be shaped, or refused, by their templates.
RESERVED_INDEX_PATTERNS = (
    "logs-*-*",
    "logs-*.otel-*",
    "metrics-*-*",
    "traces-*-*",
    "synthetics-*-*",
    "profiling-*",
    "fleet-*",
    ".*",
)

DEFAULT_KIBANA_DIR = Path(__file__).resolve().parent / "admin" / "kibana"
DEFAULT_DASHBOARDS_DIR = Path(__file__).resolve().parent / "admin" / "dashboards"

DEFAULT_LAYOUTS = (
    "/data/logs/{namespace}/{app}/{pod}/log/{file}",
    "/var/log/pods/{namespace}_{pod}_{uid}/{container}/{file}",
    "/var/log/containers/{pod}_{namespace}_{container}-{id}.log",
)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(Section):
    bootstrap_servers: str = Field(
        "localhost:9092", description="Comma-separated host:port list of Kafka brokers."
    )
    group_id: str = Field(
        "log-indexer", min_length=1, description="Consumer group shared by all indexer replicas."
    )
    topics: list[str] | None = Field(
        None,
        description="Exact topics to consume (JSON list). When set, topic_pattern is ignored.",
    )
    topic_pattern: str = Field(
        "^filebeat.*", description="Regex of topics to consume when `topics` is not set."
    )
    instance_id: str | None = Field(
        None,
        description="Static group membership id (group.instance.id); set it to the pod name so a "
        "restarted container gets its partitions back without a rebalance. A static member does "
        "not leave the group when it stops (KIP-345): its partitions move only after "
        "session.timeout.ms.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="librdkafka properties passed as is (SASL, SSL, timeouts). They override the "
        "indexer's own defaults, except the offset-handling ones that at-least-once relies on.",
    )
    consume_batch: int = Field(
        1000, ge=1, le=1_000_000, description="Most messages taken from librdkafka per poll."
    )
    poll_timeout_seconds: float = Field(
        0.2, gt=0, le=10, description="Longest wait of one poll when no message is ready."
    )
    commit_interval_seconds: float = Field(
        2.0, gt=0, le=60, description="How often acknowledged offsets are committed."
    )

    @field_validator("topic_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("options")
    @classmethod
    def _backlog_is_read(cls, value: dict[str, Any]) -> dict[str, Any]:
        # A group without a committed offset (new, or its offsets expired) starts where
        # `auto.offset.reset` says, and so does a partition whose committed offset retention
        # deleted. `latest` (`largest`, `end`) would skip the whole backlog without a word, and
        # `error` stops the partition's fetching: both lose lines. (librdkafka CONFIGURATION.md)
        reset = value.get("auto.offset.reset")
        if reset is not None and str(reset).lower() not in ("earliest", "smallest", "beginning"):
            raise ValueError(
                f"auto.offset.reset={reset!r} would skip (or stop reading) the messages a new "
                "group or a reset partition has not read yet; the indexer reads them from the "
                "earliest offset: remove the option (or set it to earliest)"
            )
        return value

    @field_validator("topics")
    @classmethod
    def _topics_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not t for t in value)):
            raise ValueError("must be a non-empty list of topic names")
        return value

    @property
    def subscription(self) -> list[str]:
        """What to pass to `Consumer.subscribe`: the topics, or the pattern (librdkafka wants `^`)."""
        if self.topics:
            return list(self.topics)
        pattern = self.topic_pattern
        return [pattern if pattern.startswith("^") else "^" + pattern]


class ElasticsearchSettings(Section):
    hosts: list[str] = Field(
        default_factory=lambda: ["http://localhost:9200"],
        min_length=1,
        description="Elasticsearch or OpenSearch URLs (JSON list).",
    )
    distribution: Literal["auto", "elasticsearch", "opensearch"] = Field(
        "auto",
        description="Which product the cluster is, hence which client speaks to it: `auto` asks "
        "`GET /`; `elasticsearch` (8.x, 9.x) or `opensearch` (2.x, 3.x) overrides the answer.",
    )
    api_key: SecretStr | None = Field(None, description="API key (the base64 `id:key` form).")
    username: str | None = Field(None, description="Basic-auth user, when no API key is used.")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    ca_certs: Path | None = Field(None, description="CA bundle to verify the cluster's TLS.")
    verify_certs: bool = Field(True, description="Verify the cluster's TLS certificate.")
    request_timeout_seconds: float = Field(
        60.0,
        gt=0,
        description="Longest wait for the cluster's answer to one HTTP request while running "
        "(bulk included): a cluster that accepts the connection and never answers is an outage "
        "after this.",
    )
    startup_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest wait for the answer to the first request (`GET /`, which finds the "
        "product): a wrong or hanging endpoint is named this soon after start.",
    )
    compress: bool = Field(False, description="Gzip request bodies (saves network, costs CPU).")

    @field_validator("hosts")
    @classmethod
    def _hosts_are_urls(cls, value: list[str]) -> list[str]:
        for host in value:
            if not re.match(r"^https?://[^/\s]+", host):
                raise ValueError(f"{host!r} is not an http(s):// URL")
        return value

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchSettings:
        if self.api_key is not None and self.username is not None:
            raise ValueError("set either api_key or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class BatchSettings(Section):
    max_docs: int = Field(5000, ge=1, description="Most documents in one bulk request.")
    max_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Most NDJSON bytes in one bulk request."
    )
    max_age_seconds: float = Field(
        1.0,
        gt=0,
        description="Longest time a document waits for its batch to fill while a bulk is in "
        "flight; with every writer idle a batch goes out after one poll.",
    )
    max_in_flight: int = Field(
        2, ge=1, le=64, description="Bulk requests sent concurrently; more waits, paused."
    )
    max_buffered_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Memory budget of documents not yet acknowledged; above it consumption pauses.",
    )


class RetrySettings(Section):
    initial_backoff_seconds: float = Field(
        0.2, gt=0, description="First wait before retrying a failed bulk or item."
    )
    max_backoff_seconds: float = Field(
        30.0, gt=0, description="Cap of the exponential backoff (full jitter below it)."
    )
    park_after_attempts: int = Field(
        5,
        ge=1,
        description="Item retries inside a batch before the items still answered 429/5xx are "
        "parked: set aside per index and retried in the background, so the batch (and every "
        "other index in it) moves on.",
    )
    park_max_seconds: float = Field(
        3600.0,
        ge=0,
        description="A parked document still failing after this long is dead-lettered with "
        "reason `retry_exhausted` (replay it with `indexer deadletter replay --error-type "
        "retry_exhausted`); 0: parked documents are retried for ever.",
    )
    park_max_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Memory budget of parked documents; when it is full, consumption pauses "
        "like when the batch budget is full.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_backoff_seconds < self.initial_backoff_seconds:
            raise ValueError("max_backoff_seconds must be >= initial_backoff_seconds")
        return self


class RoutingSettings(Section):
    index_prefix: str = Field(
        "k8s-logs",
        pattern=r"^[a-z0-9](?:[-a-z0-9.]{0,30}[a-z0-9])?$",
        description="First word of every index (`<prefix>-<namespace>_<app>-YYYY.MM.DD`). It may "
        "not make names that Elasticsearch's built-in patterns claim (logs-*-*, metrics-*-*, "
        "traces-*-*, synthetics-*-*, profiling-*); the shipped templates' patterns use the "
        "default, so a different prefix needs templates of its own.",
    )
    layouts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LAYOUTS),
        min_length=1,
        description="Path layouts tried in order on `log.file.path`. Placeholders: {namespace}, "
        "{app}, {pod}, {container}, {uid}, {id}, {file}; a layout needs {namespace} and one of "
        "{app}, {pod}.",
    )
    max_future: timedelta = Field(
        timedelta(days=1),
        description="Events stamped further ahead than this go to their ingestion day's index.",
    )
    max_past: timedelta = Field(
        timedelta(days=6),
        description="Events stamped further back than this go to their ingestion day's index. "
        "Keep it a day below the shortest retention (`templates validate` checks): an older "
        "event's day index is gone or about to go.",
    )

    @field_validator("index_prefix")
    @classmethod
    def _prefix_is_ours(cls, value: str) -> str:
        import fnmatch

        samples = (f"{value}-ns_app-2026.01.01", f"{value}-deadletter-2026.01.01")
        for pattern in RESERVED_INDEX_PATTERNS:
            if any(fnmatch.fnmatchcase(sample, pattern) for sample in samples):
                raise ValueError(
                    f"index names {value}-… would match {pattern!r}, which Elasticsearch or "
                    "OpenSearch reserve for their own templates; choose another prefix"
                )
        return value

    @field_validator("layouts")
    @classmethod
    def _layouts_compile(cls, value: list[str]) -> list[str]:
        from indexer.identity import compile_layout

        for layout in value:
            compile_layout(layout)
        return value


# Top-level fields an application's own keys must never reach: ours, the shipper's, and the
# ECS fields the parser itself fills (structured.py).
PROTECTED_FIELDS = (
    "@timestamp", "message", "kubernetes", "service", "log", "data_stream", "event", "kafka",
    "host", "agent", "ecs", "input", "error", "trace", "span", "transaction", "process",
    "labels", "tags", "container", "cloud", "orchestrator", "fields",
)  # fmt: skip


class ParsingSettings(Section):
    """Structured lines (indexer/structured.py): JSON objects, logfmt, and the level of common
    plain layouts, mapped to ECS fields."""

    enabled: bool = Field(
        True,
        description="Parse each event's `message`: a JSON object or logfmt line gives "
        "`log.level`, `message`, `@timestamp` (within the routing bounds) and other ECS fields, "
        "its other keys go under `field`; a plain line gives its level. false turns it all off.",
    )
    disabled_for: list[str] = Field(
        default_factory=list,
        description="Namespaces (`shop`) or apps of a namespace (`shop/cart`) whose lines are "
        "never parsed (JSON list).",
    )
    field: str = Field(
        "json",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The one top-level field that holds a JSON or logfmt line's keys that map to "
        "no ECS field, so an application's keys can never overwrite ours.",
    )
    keep_original: bool = Field(
        False, description="Also keep every line as read in `event.original` (ECS)."
    )
    max_line_chars: int = Field(
        65536,
        ge=0,
        le=16 * 1024 * 1024,
        description="Longer lines are indexed as they are, unparsed.",
    )
    max_keys: int = Field(
        200,
        ge=1,
        le=10_000,
        description="A JSON object (top level) or logfmt line with more keys is indexed unparsed.",
    )
    max_depth: int = Field(
        16, ge=1, le=200, description="A JSON object nested deeper is indexed unparsed."
    )
    naive_time_zone: str = Field(
        "UTC",
        description="Time zone of a line's times that carry none (s6-log's `T` prefix writes "
        "local time): an IANA name such as `Europe/Paris`.",
    )

    @field_validator("disabled_for")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not re.fullmatch(
                r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[A-Za-z0-9][-A-Za-z0-9_.]*)?", entry
            ):
                raise ValueError(f"{entry!r} is neither a namespace nor namespace/app")
        return value

    @field_validator("field")
    @classmethod
    def _not_ours(cls, value: str) -> str:
        if value in PROTECTED_FIELDS:
            raise ValueError(f"{value!r} is a field the indexer or ECS fills; choose another")
        return value

    @field_validator("naive_time_zone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        if value != "UTC":
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(value)
            except (ValueError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
                raise ValueError(f"unknown time zone {value!r}: {exc}") from None
            except KeyError:
                raise ValueError(f"unknown time zone {value!r}") from None
        return value


class DeadLetterSettings(Section):
    topic: str | None = Field(
        None,
        description="Send dead letters to this Kafka topic (original bytes and key; reason and "
        "source in headers) instead of the dead-letter index. Uses the Kafka connection settings.",
    )
    breaker_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Stop the indexer when more than this share of the last `breaker_window` "
        "messages were dead-lettered: then the fault is a template or the cluster, not the data. "
        "1 turns the breaker off.",
    )
    breaker_window: int = Field(
        1000, ge=10, description="How many recent messages the dead-letter breaker looks at."
    )
    max_original_bytes: int = Field(
        900_000,
        ge=0,
        le=50 * 1024 * 1024,
        description="Most bytes of the original message a dead letter keeps; a longer one keeps "
        "its first bytes, and its size and SHA-256 say what it was (the full message stays in "
        "its source topic while retention keeps it). The default fits Kafka's default message "
        "size (1,000,000 bytes in the producer, 1,048,588 in the broker) with room for key and "
        "headers. Shrunk further, by halves, when the destination still refuses it as too large.",
    )


class MetricsSettings(Section):
    host: str = Field("0.0.0.0", description="Address of the metrics and health HTTP server.")
    port: int = Field(
        9180, ge=0, le=65535, description="Port of /metrics, /healthz, /readyz (0: any free port)."
    )
    liveness_timeout_seconds: float = Field(
        60.0, gt=0, description="/healthz fails when the poll loop has not turned for this long."
    )
    readiness_stall_seconds: float = Field(
        300.0,
        gt=0,
        description="/readyz fails when no committable offset has advanced for this long while "
        "the consumer lag is above zero.",
    )


class LogSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="`auto`: JSON unless standard error is a terminal."
    )


class ShutdownSettings(Section):
    """How long stopping may take. On SIGTERM the indexer drains once, for at most
    `drain_timeout_seconds` from the signal (a revoke drain under way is cut to the same
    deadline, and the revokes of closing the consumer only commit), then commits and closes the
    consumer. The pod's `terminationGracePeriodSeconds` must be at least `grace_needed_seconds`
    (the deploy tests check the manifests)."""

    CLOSE_ALLOWANCE_SECONDS: ClassVar[float] = 10.0
    """After the drain: the final synchronous commit and closing the consumer (a LeaveGroup,
    which librdkafka bounds to 5 s), with room to spare."""

    drain_timeout_seconds: float = Field(
        25.0,
        gt=0,
        description="Longest wait for in-flight bulks before committing: on a revoke, and on "
        "SIGTERM for the whole stop (one drain). The pod's terminationGracePeriodSeconds must be "
        f"at least this plus {CLOSE_ALLOWANCE_SECONDS:g} s.",
    )

    @property
    def grace_needed_seconds(self) -> float:
        """The shortest termination grace period that lets a stop drain, commit and close."""
        return self.drain_timeout_seconds + self.CLOSE_ALLOWANCE_SECONDS


def _base_url(value: str | None) -> str | None:
    """An http(s) base URL without its trailing slashes, or None."""
    if value is not None and not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s):// URL")
    return None if value is None else value.rstrip("/")


# The `url` of the `kibana` and `dashboards` sections (one rule for both).
BaseUrl = Annotated[str | None, AfterValidator(_base_url)]


class KibanaSettings(Section):
    """Kibana objects (data views; with `space_per_namespace`, a space and a role per namespace)
    made from the reviewed files in `kibana/`, by `indexer kibana setup` and, when `url` is set,
    by the running indexer as each namespace first appears (in the background, never blocking
    indexing)."""

    url: BaseUrl = Field(
        None,
        description="Kibana's base URL (e.g. https://kibana:5601, or with a base path). Unset: "
        "the indexer makes no Kibana objects.",
    )
    space_per_namespace: bool = Field(
        False,
        description="Tenant isolation: a Kibana space per namespace holding its data view, and a "
        "role granting read on exactly <prefix>-<namespace>_* and on that space.",
    )
    api_key: SecretStr | None = Field(None, description="Kibana API key (the base64 `id:key`).")
    username: str | None = Field(None, description="Basic-auth user, when no API key is used.")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    ca_certs: Path | None = Field(None, description="CA bundle to verify Kibana's TLS.")
    verify_certs: bool = Field(True, description="Verify Kibana's TLS certificate.")
    objects_dir: Path = Field(
        DEFAULT_KIBANA_DIR,
        description="Directory of the Kibana object files (data_views/, spaces/, roles/). "
        "Defaults to the copy shipped in the package (the repository's kibana/).",
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one Kibana request.")
    retry_initial_seconds: float = Field(
        5.0, gt=0, description="First wait before retrying a namespace's failed Kibana setup."
    )
    retry_max_seconds: float = Field(
        300.0, gt=0, description="Cap of the backoff between retries of a failed Kibana setup."
    )

    @model_validator(mode="after")
    def _one_auth(self) -> KibanaSettings:
        if self.api_key is not None and self.username is not None:
            raise ValueError("set either api_key or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds must be >= retry_initial_seconds")
        return self


class DashboardsSettings(Section):
    """OpenSearch Dashboards objects (index patterns; with `tenant_per_namespace`, a tenant and
    a role per namespace through the security plugin) made from the reviewed files in
    `dashboards/` by `indexer dashboards setup` and, when `url` is set, by the running indexer
    as each namespace first appears (in the background): what `kibana` is for Kibana."""

    url: BaseUrl = Field(
        None,
        description="OpenSearch Dashboards' base URL (e.g. https://dashboards:5601). Unset: "
        "the indexer makes no Dashboards objects.",
    )
    tenant_per_namespace: bool = Field(
        False,
        description="Tenant isolation: a tenant per namespace holding its index pattern, and a "
        "role granting read on exactly <prefix>-<namespace>_* and on that tenant.",
    )
    api_key: SecretStr | None = Field(None, description="API key, when the Dashboards accept one.")
    username: str | None = Field(None, description="Basic-auth user, when no API key is used.")
    password: SecretStr | None = Field(None, description="Basic-auth password.")
    ca_certs: Path | None = Field(None, description="CA bundle to verify the Dashboards' TLS.")
    verify_certs: bool = Field(True, description="Verify the Dashboards' TLS certificate.")
    objects_dir: Path = Field(
        DEFAULT_DASHBOARDS_DIR,
        description="Directory of the Dashboards object files (index_patterns/, tenants/, "
        "roles/). Defaults to the copy shipped in the package (the repository's dashboards/).",
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one Dashboards request.")
    retry_initial_seconds: float = Field(
        5.0, gt=0, description="First wait before retrying a namespace's failed Dashboards setup."
    )
    retry_max_seconds: float = Field(
        300.0, gt=0, description="Cap of the backoff between retries of a failed Dashboards setup."
    )


class Settings(BaseSettings):
    """The indexer's whole configuration. Build it once, at the edge, and pass it in."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTING,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    parsing: ParsingSettings = Field(default_factory=ParsingSettings)
    deadletter: DeadLetterSettings = Field(default_factory=DeadLetterSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    shutdown: ShutdownSettings = Field(default_factory=ShutdownSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    kibana: KibanaSettings = Field(default_factory=KibanaSettings)
    dashboards: DashboardsSettings = Field(default_factory=DashboardsSettings)
    core: Literal["auto", "native", "python"] = Field(
        "auto",
        description="Which core transforms events (docs/native-core.md): `native` (Rust, "
        "`indexer_core`; start-up fails without it), `python` (the reference), or `auto`: "
        "native when it imports and passes its start-up self-check, else python.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, _CheckedEnvSource(settings_cls)]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        return tuple(sources)


class SettingsError(ValueError):
    """Raised with one line per bad value, each naming the setting and its environment variable."""


# ---------------------------------------------------------------------------------------------
# The environment, checked before pydantic-settings reads it: every INDEXER_* variable must be a
# setting (a typo is refused like the same typo in YAML, where extra="forbid" refuses it), a list
# setting takes a JSON list, one URL or a comma list, and a value that cannot be parsed names its
# variable (pydantic-settings would only say `error parsing value for field "elasticsearch"`).


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        models = [m for a in typing.get_args(annotation) if (m := _model_of(a))]
        return models[0] if len(models) == 1 else None
    return None


def _container_of(annotation: Any) -> type | None:
    """list or dict when the annotation is one of them (or an optional one), else None."""
    origin = typing.get_origin(annotation) or annotation
    if origin in (list, dict):
        return cast("type", origin)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        found = {_container_of(a) for a in typing.get_args(annotation)} - {None}
        return found.pop() if len(found) == 1 else None
    return None


def env_variables(
    model: type[BaseModel] | None = None, prefix: tuple[str, ...] = ()
) -> dict[str, tuple[tuple[str, ...], Any]]:
    """Every INDEXER_… variable the settings read: name -> (dotted path parts, annotation).
    A section's own name is included (its value is a JSON object)."""
    found: dict[str, tuple[tuple[str, ...], Any]] = {}
    for name, info in (model or Settings).model_fields.items():
        path = (*prefix, name)
        found[ENV_PREFIX + ENV_NESTING.join(p.upper() for p in path)] = (path, info.annotation)
        sub = _model_of(info.annotation)
        if sub is not None:
            found.update(env_variables(sub, path))
    return found


def environment_problems(environ: Mapping[str, str | None]) -> list[str]:
    """One line per INDEXER_* variable (any case) that is no setting or cannot be parsed."""
    import difflib

    known = env_variables()
    problems = []
    for raw_name, value in environ.items():
        name = raw_name.upper()
        if not name.startswith(ENV_PREFIX):
            continue
        entry = known.get(name)
        if entry is None:
            if any(
                name.startswith(env + ENV_NESTING) and _container_of(ann) is dict
                for env, (_, ann) in known.items()
            ):
                continue  # a key inside a mapping setting (INDEXER_KAFKA__OPTIONS__…)
            dotted = ".".join(p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_NESTING))
            # Compared without the prefix, which every name shares.
            tails = [env[len(ENV_PREFIX) :] for env in known]
            close = difflib.get_close_matches(name[len(ENV_PREFIX) :], tails, n=1, cutoff=0.8)
            hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else ""
            problems.append(f"{name}: not a setting ({dotted}){hint}")
            continue
        path, annotation = entry
        if value and (_model_of(annotation) is not None or _container_of(annotation) is dict):
            try:
                json.loads(value)
            except ValueError as exc:
                kind = (
                    "a JSON object"
                    if _model_of(annotation)
                    else 'a JSON object, e.g. {"key": "value"}'
                )
                problems.append(
                    f"setting {'.'.join(path)} ({name}): not valid JSON ({exc}); it takes {kind}"
                )
    return problems


def _as_list(value: str) -> str:
    """A list setting's environment value as JSON: a JSON list as is, else one item or a comma
    list (`http://es1:9200,http://es2:9200`)."""
    try:
        if isinstance(json.loads(value), list):
            return value
    except ValueError:
        pass
    return json.dumps([part.strip() for part in value.split(",") if part.strip()])


class _CheckedEnvSource(EnvSettingsSource):
    """The environment source, refusing unknown or unparsable INDEXER_* variables (one
    SettingsError naming each) and reading a list setting from one value or a comma list."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = dict(super()._load_env_vars())
        problems = environment_problems(environ)
        if problems:
            raise SettingsError("\n".join(problems))
        known = env_variables()
        for name, value in environ.items():
            entry = known.get(name.upper())
            if value and entry is not None and _container_of(entry[1]) is list:
                environ[name] = _as_list(value)
        return environ


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Resolve the settings from overrides, the environment, and an optional YAML file."""
    import yaml
    from pydantic import ValidationError

    settings_cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError(f"--config: {config_file} is not a readable file")
        # pydantic-settings reads the YAML path from the class config, so bind it to a subclass.
        config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": config_file})
        settings_cls = cast(
            "type[Settings]", type("FileSettings", (Settings,), {"model_config": config})
        )
    try:
        return settings_cls(**overrides)
    except SettingsError:
        raise
    except yaml.YAMLError as exc:
        raise SettingsError(f"--config {config_file}: {_yaml_problem(exc)}") from None
    except ValidationError as exc:
        from indexer.redact import redact_text

        lines = (redact_text(_describe(err)) for err in exc.errors())
        raise SettingsError("\n".join(lines)) from None
    except (ValueError, OSError) as exc:  # malformed JSON in an env var, unreadable YAML
        raise SettingsError(f"settings: {exc}") from None


def _yaml_problem(exc: Any) -> str:
    """A YAML error on one line: what, and where (1-based line and column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML: {problem}{where}"


def _describe(err: Any) -> str:
    loc = [str(part) for part in err["loc"] if not str(part).startswith("function-")]
    dotted = ".".join(loc) or "settings"
    fields = []
    for part in err["loc"]:
        if not isinstance(part, str) or part.startswith("function-"):
            break  # a list index or validator frame: the variable is the field above it
        fields.append(part.upper())
    env = ENV_PREFIX + ENV_NESTING.join(fields)
    value = err.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" (got {value!r})"
    return f"setting {dotted} ({env}): {err['msg']}{shown}"


def masked(settings: Settings) -> dict[str, Any]:
    """The resolved settings as plain data: secrets, secret librdkafka options (indexer/redact.py)
    and credentials in URLs masked."""
    from indexer.redact import redact_kafka_options, redact_value

    data = settings.model_dump(mode="json")
    data["kafka"]["options"] = redact_kafka_options(data["kafka"]["options"])
    return cast("dict[str, Any]", redact_value(data))
