"""One filebeat `filestream` input per (namespace, app): its id, file name, text and checks.

The id and the file name derive from the names alone (`indexer-agent.<namespace>.<app>`), so they
never change and are never reused; namespaces hold no dots, so the mapping is one to one.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

from indexer.agent.globs import basename_regex, path_matches
from indexer.agent.multiline import rule_for
from indexer.agent.settings import AgentSettings

ID_PREFIX = "indexer-agent."
FILE_SUFFIX = ".yml"
_FILE_NAME = re.compile(r"^indexer-agent\.([^.]+)\.(.+)\.yml$")

AppKey = tuple[str, str]

# libyaml's safe loader when PyYAML was built with it (about 10x faster: the node status and every
# maintenance run parse one input per app), else the pure-Python one; both load the same YAML.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The agent's generations, `<file>.<YYYYmmddTHHMMSSZ>` (indexer.agent.rotate.STAMP_FORMAT), for
# filebeat's copytruncate strategy: the regex finds them, the Go layout sorts them newest first.
COPYTRUNCATE_SUFFIX_REGEX = r"\.\d{8}T\d{6}Z$"
COPYTRUNCATE_DATEFORMAT = "20060102T150405Z"


class RenderError(ValueError):
    """A rendered input is not a valid filestream input for its app."""


def input_id(namespace: str, app: str) -> str:
    """The filestream id of an app's input: stable and unique."""
    return f"{ID_PREFIX}{namespace}.{app}"


def file_name(namespace: str, app: str) -> str:
    """The name of an app's input file in `inputs.d`."""
    return input_id(namespace, app) + FILE_SUFFIX


def app_of_file(name: str) -> AppKey | None:
    """The (namespace, app) whose input file is called `name`, or None for foreign files."""
    found = _FILE_NAME.match(name)
    return (found.group(1), found.group(2)) if found else None


def render_text(settings: AgentSettings, namespace: str, app: str) -> str:
    """The YAML text of an app's input file (a list holding one input)."""
    app_dir = settings.logs_root / namespace / app
    filebeat = settings.filebeat
    rule = rule_for(settings.multiline, namespace, app)
    return _template(_template_source(settings.template_file)).render(
        id=input_id(namespace, app),
        namespace=namespace,
        app=app,
        paths=[str(app_dir / glob) for glob in settings.include_globs],
        exclude_files=[basename_regex(glob) for glob in settings.exclude_globs],
        check_interval=_duration(filebeat.scan_interval_seconds),
        close_inactive=_duration(filebeat.close_inactive_seconds),
        message_max_bytes=filebeat.message_max_bytes,
        copytruncate=settings.rotate.strategy == "copytruncate",
        copytruncate_suffix_regex=COPYTRUNCATE_SUFFIX_REGEX,
        copytruncate_dateformat=COPYTRUNCATE_DATEFORMAT,
        multiline=rule.parser() if rule is not None else None,
    )


def _duration(seconds: float) -> str:
    """A Go duration string, in seconds (`1s`, `300s`)."""
    return f"{seconds:g}s"


def input_for(settings: AgentSettings, namespace: str, app: str) -> dict[str, Any]:
    """The rendered input of (namespace, app) as data: `id`, `paths`, exclusions, `fields`."""
    return parse_input(settings, render_text(settings, namespace, app), namespace, app)


def parse_input(settings: AgentSettings, text: str, namespace: str, app: str) -> dict[str, Any]:
    """Parse an input file's text and check it is one filestream input for this app."""
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise RenderError(f"input of {namespace}/{app} is not YAML: {exc}") from None
    if not (isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict)):
        raise RenderError(f"input of {namespace}/{app} must be a list of one mapping")
    found: dict[str, Any] = data[0]
    if found.get("type") != "filestream" or found.get("id") != input_id(namespace, app):
        raise RenderError(f"input of {namespace}/{app} needs type filestream and its own id")
    paths = found.get("paths")
    if not (isinstance(paths, list) and paths and all(isinstance(p, str) for p in paths)):
        raise RenderError(f"input of {namespace}/{app} needs a non-empty list of paths")
    app_dir = f"{settings.logs_root / namespace / app}/"
    if not all(p.startswith(app_dir) for p in paths):
        raise RenderError(f"input of {namespace}/{app}: every path must lie under {app_dir}")
    return found


def covers(rendered: dict[str, Any], path: str) -> bool:
    """Whether filebeat would read `path` through this input: a path glob matches, no exclusion."""
    if not any(path_matches(glob, path) for glob in rendered.get("paths", [])):
        return False
    excluded = rendered.get("prospector.scanner.exclude_files", [])
    return not any(re.search(pattern, path) for pattern in excluded)


def _template_source(override: Path | None) -> str:
    if override is not None:
        return override.read_text(encoding="utf-8")
    return resources.files("indexer.agent").joinpath("templates/input.yml.j2").read_text("utf-8")


@lru_cache(maxsize=4)
def _template(source: str) -> jinja2.Template:
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    return env.from_string(source)
