"""Every setting of the node agent, nested under `Settings.agent` (env `INDEXER_AGENT__…`).

Defaults match the DaemonSet layout: logs under `/data/logs/<namespace>/<app>/<pod>/log/`,
filebeat's reloadable inputs in `/etc/filebeat/inputs.d`, agent state on the host path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from indexer.agent.multiline import MultilineRule
from indexer.agent.names import valid_app, valid_namespace

# s6-log's whole rename chain (`current` -> `previous` -> `@<tai64n>.s`, `.u` after a crash) and
# the agent's uncompressed generations stay in `paths`: filestream only follows a rename to a path
# it scans, and only starts reading files it scanned (docs/agent.md, "Configuring filebeat").
DEFAULT_INCLUDE = (
    "*/log/current",
    "*/log/previous",
    "*/log/@*.s",
    "*/log/@*.u",
    "*/log/*.log",
    "*/log/*.log.????????T??????Z",
)
DEFAULT_EXCLUDE = (".*", "*.gz", "lock", "state", "processed", "newstate")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RotateSettings(_Section):
    schedule: str = Field(
        "0 * * * *", description="Cron expression (5 fields) of rotation runs, in `timezone`."
    )
    timezone: str = Field("UTC", description="IANA time zone the schedule is read in.")
    strategy: Literal["rename", "copytruncate"] = Field(
        "rename",
        description="`rename`: move the file aside and create a new one with the same owner, group "
        "and mode, for writers that reopen their file. `copytruncate`: copy then truncate in "
        "place, for writers that never reopen; the inputs then use filebeat's copytruncate "
        "strategy, and lines written between the end of the copy and the truncate are lost "
        "(measured in docs/agent.md).",
    )
    max_size_bytes: int | None = Field(
        100 * 1024 * 1024,
        ge=1,
        description="Rotate a file at a run when it is at least this big (null: no size rule).",
    )
    max_age_seconds: float | None = Field(
        86400.0,
        gt=0,
        description="Rotate a file at a run when its last rotation (or first sighting) is at "
        "least this old (null: no age rule). With both rules null every non-empty file rotates.",
    )
    keep: int = Field(
        7,
        ge=1,
        le=1000,
        description="Rotated generations kept per file (compressed or not); older ones are "
        "deleted once filebeat's registry shows them read.",
    )
    compress: bool = Field(
        True,
        description="Gzip generations in the background once filebeat's registry shows them "
        "read to the end (never before).",
    )
    include: list[str] = Field(
        default_factory=lambda: ["*.log"],
        min_length=1,
        description="Basename globs of the files in a pod's `log/` directory that are rotated. "
        "s6-log's own files (`current`, `@…`, `lock`, `state`) are never touched.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a 5-field cron expression: {value!r}")
        return value


class PruneSettings(_Section):
    enabled: bool = Field(True, description="Remove log directories of pods that are gone.")
    retention_seconds: float = Field(
        7 * 86400.0,
        gt=0,
        description="A pod directory is removed only when nothing in it changed for this long, "
        "no process holds its s6-log `lock`, and filebeat's registry shows every file read.",
    )


class FilebeatSettings(_Section):
    """What the rendered inputs tell filebeat, and where the agent reads filebeat's registry."""

    registry_dir: Path = Field(
        Path("/usr/share/filebeat/data/registry/filebeat"),
        description="filebeat's registry directory (`<path.data>/registry/filebeat`), mounted "
        "read-only: the agent compresses, deletes and prunes only what it shows as read.",
    )
    scan_interval_seconds: float = Field(
        1.0,
        ge=1.0,
        description="`prospector.scanner.check_interval` of the inputs (filebeat discourages "
        "less than 1s).",
    )
    close_inactive_seconds: float = Field(
        300.0,
        gt=0,
        description="`close.on_state_change.inactive`: a harvester that read nothing for this "
        "long is closed (it restarts on the next size change the scanner sees).",
    )
    message_max_bytes: int = Field(
        131072,
        ge=1024,
        le=160000,
        description="`message_max_bytes` of the inputs: longer lines are cut here and flagged "
        "`log.flags: [truncated]`. At most 160000 so that an event escaped 6x by JSON encoding "
        "still fits Kafka's `max_message_bytes` (1000000) with its envelope.",
    )

    stats_url: str = Field(
        "http://127.0.0.1:5066/stats",
        description="filebeat's `/stats` (its `http.*` endpoint, loopback of the same pod): the "
        "agent re-exports the output and pipeline counters the alerts need as "
        "`indexer_agent_filebeat_*` at each scrape (empty: off).",
    )
    stats_timeout_seconds: float = Field(
        2.0, gt=0, le=10, description="How long one scrape waits for filebeat's `/stats`."
    )


class AgentMetricsSettings(_Section):
    host: str = Field("0.0.0.0", description="Address of the agent's /metrics and /healthz.")
    port: int = Field(9181, ge=0, le=65535, description="Port of /metrics and /healthz (0: off).")
    liveness_timeout_seconds: float = Field(
        120.0, gt=0, description="/healthz fails when the main loop has not turned for this long."
    )


class AgentSettings(_Section):
    logs_root: Path = Field(
        Path("/data/logs"), description="Root of the tree `<namespace>/<app>/<pod>/log/<file>`."
    )
    inputs_dir: Path = Field(
        Path("/etc/filebeat/inputs.d"),
        description="Directory filebeat loads inputs from (`filebeat.config.inputs.path`).",
    )
    state_dir: Path = Field(
        Path("/data/logs/.indexer-agent"),
        description="Host directory of the agent's rotation state (survives agent restarts).",
    )
    template_file: Path | None = Field(
        None, description="Jinja2 template of one input, replacing the packaged one."
    )
    include_globs: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INCLUDE),
        min_length=1,
        description="Globs, relative to an app directory, of the files filebeat reads.",
    )
    exclude_globs: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXCLUDE),
        description="Basename globs filebeat must never read: hidden (temporary) files, "
        "compressed generations and s6-log's `lock`, `state`, `processed` and `newstate`.",
    )
    input_owner_uid: int = Field(0, ge=0, description="Owner of the written input files.")
    input_owner_gid: int = Field(0, ge=0, description="Group of the written input files.")
    settle_seconds: float = Field(
        2.0, ge=0, description="Quiet time after a directory event before reconciling."
    )
    reconcile_interval_seconds: float = Field(
        60.0, gt=0, description="Full reconcile this often, whatever the watcher saw."
    )
    removal_grace_seconds: float = Field(
        600.0,
        ge=0,
        description="An app's input is removed this long after its directory disappeared.",
    )
    status_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="How often the unshipped bytes (registry offsets against file sizes) and "
        "the logs volume's usage are measured for /metrics.",
    )
    multiline: dict[str, MultilineRule] = Field(
        default_factory=dict,
        description="Multi-line joining by `namespace` or `namespace/app` (the latter wins): "
        "a rule with a `preset` (java, python, go, indented) or an explicit `pattern` "
        '(docs/agent.md, "Multi-line events").',
    )
    filebeat: FilebeatSettings = Field(default_factory=FilebeatSettings)
    rotate: RotateSettings = Field(default_factory=RotateSettings)
    prune: PruneSettings = Field(default_factory=PruneSettings)
    metrics: AgentMetricsSettings = Field(default_factory=AgentMetricsSettings)

    @field_validator("include_globs")
    @classmethod
    def _relative(cls, value: list[str]) -> list[str]:
        for glob in value:
            if glob.startswith("/") or ".." in glob.split("/"):
                raise ValueError(f"{glob!r} must be relative to the app directory")
        return value

    @field_validator("multiline")
    @classmethod
    def _multiline_keys(cls, value: dict[str, MultilineRule]) -> dict[str, MultilineRule]:
        for key in value:
            namespace, _, app = key.partition("/")
            if not valid_namespace(namespace) or ("/" in key and not valid_app(app)):
                raise ValueError(f"{key!r} must be a namespace or namespace/app")
        return value

    @field_validator("exclude_globs")
    @classmethod
    def _basenames(cls, value: list[str]) -> list[str]:
        for glob in value:
            if not glob or "/" in glob:
                raise ValueError(f"{glob!r} must be a basename glob (no '/')")
        return value
