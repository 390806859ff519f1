"""Every setting of the node agent, nested under `Settings.agent` (env `INDEXER_AGENT__…`).

Defaults match the DaemonSet layout: logs under `/data/logs/<namespace>/<app>/<pod>/log/`,
filebeat's reloadable inputs in `/etc/filebeat/inputs.d`, agent state on the host path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_INCLUDE = ("*/log/*.log", "*/log/current")
DEFAULT_EXCLUDE = ("*.gz", "*.????????T??????Z", "@*.s", "@*.u", "lock", "state")


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
        "and mode (the writer must reopen). `copytruncate`: copy then truncate in place, for "
        "writers that never reopen; it can lose lines (see docs/agent.md).",
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
        7, ge=1, le=1000, description="Rotated generations kept per file (compressed or not)."
    )
    compress: bool = Field(
        True,
        description="Gzip generations in the background, one run after they were rotated, so "
        "filebeat has finished reading them.",
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
        description="A pod directory is removed when nothing in it changed for this long.",
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
        description="Basename globs filebeat must never read: compressed and rotated files, "
        "s6-log archives (`@<tai64n>.s`/`.u`) and its `lock` and `state` files.",
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

    @field_validator("exclude_globs")
    @classmethod
    def _basenames(cls, value: list[str]) -> list[str]:
        for glob in value:
            if not glob or "/" in glob:
                raise ValueError(f"{glob!r} must be a basename glob (no '/')")
        return value
