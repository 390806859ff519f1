"""The `lifecycle` settings section: templates, lifecycle policies, retention, shard budget."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_TEMPLATES_DIR = PACKAGE_DIR / "index_templates"
DEFAULT_POLICIES_DIR = PACKAGE_DIR / "ilm"

LifecycleMode = Literal["auto", "ilm", "ism", "sweeper", "off"]

_POLICY_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_NAMESPACE_PATTERN = re.compile(r"^[a-z0-9*][-a-z0-9*]{0,62}$")


class LifecycleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: LifecycleMode = Field(
        "auto",
        description="Who deletes old indices: `ilm` (Elasticsearch), `ism` (OpenSearch), `sweeper` "
        "(the indexer itself), `off` (nobody), or `auto`: ask the cluster (ILM on Elasticsearch, "
        "ISM on OpenSearch when the plugin answers, else the sweeper).",
    )
    setup_on_start: bool = Field(
        True,
        description="Apply templates and policies at start (as `indexer setup`, never overwriting); "
        "readiness fails while the cluster refuses them. false: the runtime role of deploy/roles/ "
        "(no template or policy is changed; the indexer waits until `indexer setup` has run).",
    )
    templates_dir: Path = Field(
        DEFAULT_TEMPLATES_DIR,
        description="Directory of component and index template JSON files (file name = template "
        "name). Defaults to the copy shipped in the package (the repository's index_templates/).",
    )
    policies_dir: Path = Field(
        DEFAULT_POLICIES_DIR,
        description="Directory of ILM policy JSON files (file name = policy name). Defaults to the "
        "copy shipped in the package (the repository's ilm/).",
    )
    default_policy: str = Field(
        "k8s-logs-7d", description="Policy of every index no namespace rule or template names."
    )
    namespace_policies: dict[str, str] = Field(
        default_factory=dict,
        description="Namespace (or glob pattern such as `prod-*`) to policy name, as a JSON "
        'object, e.g. {"payments": "k8s-logs-30d", "dev-*": "k8s-logs-7d"}. The first match wins. '
        "Globs use `*` only (ISM refuses `?` in its patterns).",
    )
    sweeper_interval_seconds: float = Field(
        3600.0, gt=0, description="How often the retention sweeper looks for expired indices."
    )
    sweeper_dry_run: bool = Field(False, description="The sweeper only logs what it would delete.")
    shard_reserve: int = Field(
        100,
        ge=0,
        description="Shards kept free in the cluster: below this headroom, new per-app daily "
        "indices go to the namespace's shared daily index instead.",
    )
    headroom_ttl_seconds: float = Field(
        30.0, gt=0, description="How long a reading of the cluster's shard headroom is trusted."
    )

    @field_validator("default_policy")
    @classmethod
    def _policy_name(cls, value: str) -> str:
        if not _POLICY_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid policy name")
        return value

    @field_validator("namespace_policies")
    @classmethod
    def _namespace_rules(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, policy in value.items():
            if not _NAMESPACE_PATTERN.match(pattern):
                raise ValueError(f"{pattern!r} is not a namespace name or glob pattern")
            if not _POLICY_NAME.match(policy):
                raise ValueError(f"{policy!r} (for {pattern!r}) is not a valid policy name")
        return value

    def policy_for_namespace(self, namespace: str) -> str | None:
        """The policy a namespace rule gives `namespace`, or None when no rule matches."""
        for pattern, policy in self.namespace_policies.items():
            if fnmatch.fnmatchcase(namespace, pattern):
                return policy
        return None
