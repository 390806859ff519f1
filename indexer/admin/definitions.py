"""The checked definitions: the files as read (`sources.py`), with nothing `validate.py` finds
wrong, by name. Setup renders and plans from them; the runtime (the preparer, the sweeper)
reads them too, and neither needs the setup command for that.

`load_definitions` checks the files alone (raises DefinitionError); `load_checked_definitions`
also checks them against the settings that use them (raises SetupError). Both only read files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexer.admin.errors import SetupError
from indexer.admin.sources import SourceFile, read_sources
from indexer.admin.validate import routing_conflicts, validate_sources
from indexer.admin.values import flatten_settings, parse_duration

if TYPE_CHECKING:
    from indexer.admin.settings import LifecycleSettings
    from indexer.settings import Settings

# The index template every app index gets (the file `index_templates/index/<name>.json`).
BASE_TEMPLATE = "k8s-logs-apps"


class DefinitionError(ValueError):
    """The files cannot be read as definitions (run `indexer templates validate`)."""


@dataclass(frozen=True)
class Definitions:
    """The validated-enough-to-use contents of the files, by name."""

    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    index_templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def delete_after(self, policy: str) -> timedelta | None:
        """The `min_age` of the policy's delete phase; None when the policy never deletes."""
        phases = self.policies.get(policy, {}).get("policy", {}).get("phases", {})
        delete = phases.get("delete")
        if not isinstance(delete, dict) or "delete" not in delete.get("actions", {}):
            return None
        return parse_duration(str(delete.get("min_age", "0ms")))

    def template_policy(self, name: str) -> str | None:
        """The lifecycle policy an index template's own settings name, if any."""
        settings = flatten_settings(self.index_templates[name].get("template", {}).get("settings"))
        value = settings.get("index.lifecycle.name")
        return None if value is None else str(value)


def load_definitions(templates_dir: Path, policies_dir: Path) -> Definitions:
    """The definitions, once `indexer.admin.validate` finds nothing wrong with the files."""
    sources, errors = read_sources(templates_dir, policies_dir)
    return _definitions(sources, errors)


def load_checked_definitions(settings: Settings) -> Definitions:
    """The files, validated, checked against the routing bounds and the policy names the
    settings use (those two only while a lifecycle is on), and holding the base template.
    Raises SetupError naming what is wrong."""
    lifecycle = settings.lifecycle
    sources, errors = read_sources(lifecycle.templates_dir, lifecycle.policies_dir)
    try:
        definitions = _definitions(sources, errors)
    except DefinitionError as exc:
        raise SetupError(str(exc)) from None
    conflicts = routing_conflicts(sources, settings.routing.max_past)
    if conflicts and lifecycle.mode != "off":
        raise SetupError("; ".join(str(p) for p in conflicts))
    missing = missing_policies(lifecycle, set(definitions.policies), lifecycle.policies_dir)
    if missing and lifecycle.mode != "off":
        raise SetupError("; ".join(missing))
    if BASE_TEMPLATE not in definitions.index_templates:
        raise SetupError(
            f"{lifecycle.templates_dir}/index/{BASE_TEMPLATE}.json is required (the base)"
        )
    return definitions


def missing_policies(
    lifecycle: LifecycleSettings, policies: set[str], policies_dir: Path
) -> list[str]:
    """One message per policy the settings name (default or namespace rule) that `policies`,
    the policy files found in `policies_dir`, do not hold."""
    named = {lifecycle.default_policy, *lifecycle.namespace_policies.values()}
    return [
        f"settings: lifecycle names policy {name!r}, which has no file in {policies_dir}"
        for name in sorted(named - policies)
    ]


def _definitions(sources: list[SourceFile], errors: list[str]) -> Definitions:
    problems = errors + [str(p) for p in validate_sources(sources)]
    if problems:
        shown = "\n".join(problems[:20])
        raise DefinitionError(f"{len(problems)} problem(s) in the definition files:\n{shown}")
    definitions = Definitions()
    target = {
        "component_template": definitions.components,
        "index_template": definitions.index_templates,
        "ilm_policy": definitions.policies,
    }
    for source in sources:
        target[source.kind][source.name] = source.body
    return definitions
