"""The reviewed object files both products read: one JSON file per object kind and name,

    <sub-directory>/<name>.json   {"version", "scope", "_meta", "<kind>": body, ...}

checked the same way (a positive integer `version`, `scope` global or namespace, `_meta.managed_by`
our marker, the `<kind>` object, only known `{placeholders}` for the scope, only the main kind
may be global) plus the product's own checks, and rendered by substituting the placeholders.

Each product says what differs in a `Layout` (indexer/kibana/objects.py: data views, spaces,
roles; indexer/dashboards/objects.py: index patterns, tenants, roles). Reading is pure apart
from the file reads; every problem raises the layout's error naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MANAGED_BY = "log-indexer"

Scope = Literal["global", "namespace"]
PLACEHOLDER = re.compile(r"\{([a-z]+)\}")


@dataclass(frozen=True)
class Source:
    """One checked object file; `body` is the whole file, placeholders not yet rendered."""

    kind: str
    name: str
    path: Path
    version: int
    scope: Scope
    body: dict[str, Any]


@dataclass(frozen=True)
class Layout:
    """What one product's object files are."""

    kinds: Mapping[str, str]  # sub-directory -> kind, in the order they are read
    main_kind: str  # at least one file needed; the only kind that may be global
    placeholders: Mapping[str, frozenset[str]]  # scope -> the placeholders it may use
    error: type[ValueError]  # raised with "<path>: <problems>"
    # (kind, whole file, the kind's object) -> the product's own problems with the file
    check: Callable[[str, dict[str, Any], dict[str, Any]], list[str]]


def read_sources(directory: Path, layout: Layout) -> list[Source]:
    """Every object file under `directory`, checked; `layout.error` naming the file otherwise
    (or the directory, when it is missing or has no file of the main kind)."""
    if not directory.is_dir():
        raise layout.error(f"{directory}: not a directory")
    sources = [
        _source(layout, kind, path)
        for sub, kind in layout.kinds.items()
        for path in sorted((directory / sub).glob("*.json"))
    ]
    if not any(s.kind == layout.main_kind for s in sources):
        main_sub = next(sub for sub, kind in layout.kinds.items() if kind == layout.main_kind)
        words = layout.main_kind.replace("_", " ")
        raise layout.error(f"{directory}/{main_sub}: no {words} files")
    return sources


def _source(layout: Layout, kind: str, path: Path) -> Source:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise layout.error(f"{path}: cannot read: {exc}") from None
    problems = []
    version, scope = body.get("version"), body.get("scope")
    if type(version) is not int or version < 1:
        problems.append("version must be a positive integer")
    if scope not in layout.placeholders:
        problems.append("scope must be global or namespace")
    if body.get("_meta", {}).get("managed_by") != MANAGED_BY:
        problems.append(f"_meta.managed_by must be {MANAGED_BY!r}")
    inner = body.get(kind)
    if not isinstance(inner, dict):
        problems.append(f"needs a {kind!r} object")
    else:
        problems.extend(layout.check(kind, body, inner))
    if kind != layout.main_kind and scope != "namespace":
        problems.append(f"a {kind} exists per namespace: scope must be namespace")
    used = set(PLACEHOLDER.findall(json.dumps(body)))
    unknown = used - layout.placeholders.get(str(scope), frozenset())
    if unknown:
        problems.append(f"unknown placeholders {sorted(unknown)} for scope {scope}")
    if problems:
        raise layout.error(f"{path}: " + "; ".join(problems))
    return Source(kind, path.stem, path, version, scope, body)


@dataclass(frozen=True)
class Role:
    """A role as rendered for one namespace (the body is the product's role API body)."""

    name: str
    version: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Placement:
    """One object to make: its file, the placeholder values to render it with, and the place
    (Kibana space, Dashboards tenant) it goes to."""

    source: Source
    values: dict[str, str]
    place: str


def placements(
    sources: list[Source],
    layout: Layout,
    prefix: str,
    namespaces: list[str],
    *,
    place_key: str,
    global_place: str,
    place_of: Callable[[str, str], str] | None,
    include_global: bool = True,
) -> Iterator[Placement]:
    """The objects one setup wants, in the order they are applied: with `include_global`, the
    global files of the main kind (values: prefix only; in `global_place`); then for each
    namespace, each namespace file. With `place_of` (prefix, namespace -> place: a place per
    namespace) every kind goes to the namespace's place, `place_key` naming it among the
    values; without, only the main kind, to `global_place`."""
    if include_global:
        for source in sources:
            if source.kind == layout.main_kind and source.scope == "global":
                yield Placement(source, {"prefix": prefix}, global_place)
    for namespace in namespaces:
        place = global_place if place_of is None else place_of(prefix, namespace)
        values = {"prefix": prefix, "namespace": namespace, place_key: place}
        for source in sources:
            if source.scope != "namespace":
                continue
            if source.kind == layout.main_kind or place_of is not None:
                yield Placement(source, values, place)


def render(value: Any, values: dict[str, str]) -> Any:
    """`value` (JSON) with every `{name}` in its strings and keys replaced by `values[name]`
    (read_sources has checked that each is known for the file's scope)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [render(item, values) for item in value]
    if isinstance(value, dict):
        return {render(k, values): render(v, values) for k, v in value.items()}
    return value
