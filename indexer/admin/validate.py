"""Offline checks of the definition files. Every problem names the file and the JSON path.

What is checked: known top-level keys, well-formed mappings, legal ILM phases and actions per
phase (the lists of Elasticsearch's `TimeseriesLifecycleType`), `min_age` strictly increasing,
no `rollover` (the indices are date-named and written directly) and no hot-phase action that
needs one, overlapping index patterns at equal priority, and that every component template and
lifecycle policy a template names exists.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from indexer.admin.sources import SourceFile
from indexer.admin.values import PHASES, flatten_settings, parse_duration

COMPONENT_KEYS = {"template", "version", "_meta", "deprecated"}
INDEX_TEMPLATE_KEYS = {
    "index_patterns",
    "composed_of",
    "template",
    "priority",
    "version",
    "_meta",
    "data_stream",
    "allow_auto_create",
    "ignore_missing_component_templates",
    "deprecated",
}
TEMPLATE_KEYS = {"settings", "mappings", "aliases", "lifecycle"}
POLICY_KEYS = {"phases", "_meta"}
PHASE_KEYS = {"min_age", "actions"}

ALLOWED_ACTIONS: dict[str, frozenset[str]] = {
    "hot": frozenset(
        {
            "set_priority",
            "unfollow",
            "rollover",
            "readonly",
            "downsample",
            "shrink",
            "forcemerge",
            "searchable_snapshot",
        }
    ),
    "warm": frozenset(
        {
            "set_priority",
            "unfollow",
            "readonly",
            "allocate",
            "migrate",
            "downsample",
            "shrink",
            "forcemerge",
        }
    ),
    "cold": frozenset(
        {
            "set_priority",
            "unfollow",
            "readonly",
            "searchable_snapshot",
            "allocate",
            "migrate",
            "downsample",
            "freeze",
        }
    ),
    "frozen": frozenset({"unfollow", "searchable_snapshot"}),
    "delete": frozenset({"wait_for_snapshot", "delete"}),
}
# Elasticsearch refuses these in the hot phase unless it also rolls over.
HOT_ACTIONS_NEEDING_ROLLOVER = frozenset(
    {"readonly", "shrink", "forcemerge", "downsample", "searchable_snapshot"}
)

FIELD_TYPES = frozenset(
    {
        "keyword",
        "constant_keyword",
        "wildcard",
        "text",
        "match_only_text",
        "long",
        "integer",
        "short",
        "byte",
        "double",
        "float",
        "half_float",
        "scaled_float",
        "unsigned_long",
        "date",
        "date_nanos",
        "boolean",
        "binary",
        "ip",
        "object",
        "nested",
        "flattened",
        "flat_object",
        "geo_point",
        "geo_shape",
        "alias",
        "version",
        "integer_range",
        "long_range",
        "date_range",
        "ip_range",
    }
)
OBJECT_TYPES = frozenset({"object", "nested"})
DYNAMIC_VALUES = (True, False, "true", "false", "strict", "runtime")
MAPPING_ROOT_KEYS = {
    "properties",
    "dynamic",
    "dynamic_templates",
    "_source",
    "_routing",
    "_meta",
    "date_detection",
    "numeric_detection",
    "dynamic_date_formats",
    "runtime",
    "subobjects",
    "enabled",
}


@dataclass(frozen=True)
class Problem:
    file: Path
    json_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.json_path}: {self.message}"


class _Checker:
    def __init__(self, source: SourceFile) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.source.path, path, message))

    def keys(self, value: Any, path: str, allowed: set[str]) -> bool:
        if not isinstance(value, dict):
            self.error(path, f"must be an object, not {type(value).__name__}")
            return False
        for key in value:
            if key not in allowed:
                self.error(f"{path}.{key}", f"unknown key (expected one of {sorted(allowed)})")
        return True

    def version(self, value: Any, path: str) -> None:
        if value is None:
            self.error(path, "missing: every file carries a version")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.error(path, f"must be a non-negative integer, not {value!r}")


def validate_sources(sources: list[SourceFile]) -> list[Problem]:
    """Every problem of the files, cross-file checks included."""
    problems: list[Problem] = []
    components = {s.name for s in sources if s.kind == "component_template"}
    policies = {s.name for s in sources if s.kind == "ilm_policy"}
    for source in sources:
        checker = _Checker(source)
        if source.kind == "component_template":
            _check_component(checker)
        elif source.kind == "index_template":
            _check_index_template(checker, components, policies)
        else:
            _check_policy(checker)
        problems.extend(checker.problems)
    problems.extend(_overlaps([s for s in sources if s.kind == "index_template"]))
    return problems


def _check_component(c: _Checker) -> None:
    body = c.source.body
    if not c.keys(body, "$", COMPONENT_KEYS):
        return
    c.version(body.get("version"), "$.version")
    if "template" not in body:
        c.error("$.template", "missing")
    else:
        _check_template(c, body["template"], "$.template")


def _check_index_template(c: _Checker, components: set[str], policies: set[str]) -> None:
    body = c.source.body
    if not c.keys(body, "$", INDEX_TEMPLATE_KEYS):
        return
    c.version(body.get("version"), "$.version")
    patterns = body.get("index_patterns")
    if (
        not isinstance(patterns, list)
        or not patterns
        or not all(isinstance(p, str) and p for p in patterns)
    ):
        c.error("$.index_patterns", "must be a non-empty list of index patterns")
    priority = body.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        c.error("$.priority", f"must be a non-negative integer, not {priority!r}")
    composed = body.get("composed_of", [])
    if not isinstance(composed, list):
        c.error("$.composed_of", "must be a list of component template names")
        composed = []
    for i, name in enumerate(composed):
        if name not in components:
            c.error(f"$.composed_of[{i}]", f"component template {name!r} has no file")
    if "template" in body:
        _check_template(c, body["template"], "$.template")
        settings = flatten_settings(body["template"].get("settings"))
        policy = settings.get("index.lifecycle.name")
        if policy is not None and policy not in policies:
            c.error("$.template.settings.index.lifecycle.name", f"policy {policy!r} has no file")
        if "index.lifecycle.rollover_alias" in settings:
            c.error(
                "$.template.settings.index.lifecycle.rollover_alias",
                "daily indices are written directly; there is nothing to roll over",
            )


def _check_template(c: _Checker, template: Any, path: str) -> None:
    if not c.keys(template, path, TEMPLATE_KEYS):
        return
    if "settings" in template and not isinstance(template["settings"], dict):
        c.error(f"{path}.settings", "must be an object")
    settings = flatten_settings(template.get("settings"))
    limit = settings.get("index.mapping.total_fields.limit")
    if limit is not None and (not isinstance(limit, int) or not 0 < limit <= 10000):
        c.error(f"{path}.settings.index.mapping.total_fields.limit", "must be 1..10000")
    if "mappings" in template:
        _check_mappings(c, template["mappings"], f"{path}.mappings")


def _check_mappings(c: _Checker, mappings: Any, path: str) -> None:
    if not c.keys(mappings, path, MAPPING_ROOT_KEYS):
        return
    if "dynamic" in mappings and mappings["dynamic"] not in DYNAMIC_VALUES:
        c.error(f"{path}.dynamic", "must be one of true, false, strict, runtime")
    rules = mappings.get("dynamic_templates", [])
    if not isinstance(rules, list):
        c.error(f"{path}.dynamic_templates", "must be a list")
        rules = []
    for i, rule in enumerate(rules):
        rule_path = f"{path}.dynamic_templates[{i}]"
        if not isinstance(rule, dict) or len(rule) != 1:
            c.error(rule_path, "must be an object with exactly one named rule")
            continue
        ((name, spec),) = rule.items()
        if not isinstance(spec, dict) or not isinstance(spec.get("mapping"), dict):
            c.error(f"{rule_path}.{name}.mapping", "missing or not an object")
        elif "type" in spec["mapping"] and spec["mapping"]["type"] not in FIELD_TYPES:
            c.error(f"{rule_path}.{name}.mapping.type", f"unknown type {spec['mapping']['type']!r}")
    if "properties" in mappings:
        _check_properties(c, mappings["properties"], f"{path}.properties")


def _check_properties(c: _Checker, properties: Any, path: str) -> None:
    if not isinstance(properties, dict):
        c.error(path, "must be an object of field definitions")
        return
    for name, spec in properties.items():
        field_path = f"{path}.{name}"
        if not name or name.startswith(".") or name.endswith("."):
            c.error(field_path, "invalid field name")
        if not isinstance(spec, dict):
            c.error(field_path, "a field definition must be an object")
            continue
        kind = spec.get("type", "object" if "properties" in spec else None)
        if kind is None:
            c.error(f"{field_path}.type", "missing (and no properties)")
            continue
        if kind not in FIELD_TYPES:
            c.error(f"{field_path}.type", f"unknown type {kind!r}")
            continue
        if "properties" in spec:
            if kind not in OBJECT_TYPES:
                c.error(f"{field_path}.properties", f"a {kind} field cannot have properties")
            else:
                _check_properties(c, spec["properties"], f"{field_path}.properties")
        if "ignore_above" in spec and kind not in ("keyword", "wildcard", "flattened"):
            c.error(f"{field_path}.ignore_above", f"not a parameter of {kind} fields")
        if "dynamic" in spec and spec["dynamic"] not in DYNAMIC_VALUES:
            c.error(f"{field_path}.dynamic", "must be one of true, false, strict, runtime")


def _check_policy(c: _Checker) -> None:
    body = c.source.body
    if not c.keys(body, "$", {"policy"}) or not c.keys(body.get("policy"), "$.policy", POLICY_KEYS):
        if isinstance(body, dict) and "policy" not in body:
            c.error("$.policy", "missing")
        return
    policy = body["policy"]
    meta = policy.get("_meta")
    c.version(meta.get("version") if isinstance(meta, dict) else None, "$.policy._meta.version")
    phases = policy.get("phases")
    if not isinstance(phases, dict) or not phases:
        c.error("$.policy.phases", "must be a non-empty object of phases")
        return
    last: tuple[str, float] | None = None
    for name in phases:
        if name not in PHASES:
            c.error(f"$.policy.phases.{name}", f"unknown phase (expected one of {list(PHASES)})")
    for name in (p for p in PHASES if p in phases):
        path = f"$.policy.phases.{name}"
        phase = phases[name]
        if not c.keys(phase, path, PHASE_KEYS):
            continue
        try:
            age = parse_duration(str(phase.get("min_age", "0ms"))).total_seconds()
        except ValueError as exc:
            c.error(f"{path}.min_age", str(exc))
        else:
            if last is not None and age <= last[1]:
                c.error(f"{path}.min_age", f"must be greater than the {last[0]} phase's min_age")
            last = (name, age)
        actions = phase.get("actions", {})
        if not isinstance(actions, dict):
            c.error(f"{path}.actions", "must be an object of actions")
            continue
        for action in actions:
            action_path = f"{path}.actions.{action}"
            if action == "rollover":
                c.error(action_path, "daily indices are written directly: no rollover")
            elif action not in ALLOWED_ACTIONS[name]:
                c.error(action_path, f"action not allowed in the {name} phase")
            elif name == "hot" and action in HOT_ACTIONS_NEEDING_ROLLOVER:
                c.error(action_path, "needs rollover in the hot phase; move it to warm")
        if name == "frozen" and "searchable_snapshot" not in actions:
            c.error(f"{path}.actions", "the frozen phase needs a searchable_snapshot action")


def _overlaps(templates: list[SourceFile]) -> list[Problem]:
    problems: list[Problem] = []
    for i, first in enumerate(templates):
        for second in templates[i + 1 :]:
            a, b = first.body, second.body
            if not isinstance(a, dict) or not isinstance(b, dict):
                continue
            if a.get("priority", 0) != b.get("priority", 0):
                continue
            for pa in _patterns(a):
                for pb in _patterns(b):
                    if globs_overlap(pa, pb):
                        problems.append(
                            Problem(
                                second.path,
                                "$.index_patterns",
                                f"{pb!r} overlaps {pa!r} of {first.path.name} at the same "
                                f"priority {a.get('priority', 0)}; give one a higher priority",
                            )
                        )
    return problems


def _patterns(body: dict[str, Any]) -> list[str]:
    patterns = body.get("index_patterns", [])
    return [p for p in patterns if isinstance(p, str)] if isinstance(patterns, list) else []


def globs_overlap(a: str, b: str) -> bool:
    """Whether some index name matches both `*`-globs."""
    return _overlap(a, b)


@cache
def _overlap(a: str, b: str) -> bool:
    if not a or not b:
        return a.strip("*") == "" and b.strip("*") == ""
    if a[0] == "*":
        return _overlap(a[1:], b) or _overlap(a, b[1:]) if b[0] != "*" else _star(a, b)
    if b[0] == "*":
        return _overlap(a, b[1:]) or _overlap(a[1:], b)
    return a[0] == b[0] and _overlap(a[1:], b[1:])


def _star(a: str, b: str) -> bool:
    return _overlap(a[1:], b) or _overlap(a, b[1:])


def matches(pattern: str, index: str) -> bool:
    return fnmatch.fnmatchcase(index, pattern)


def winning_template(
    templates: dict[str, dict[str, Any]], index: str
) -> tuple[str, dict[str, Any]] | None:
    """The composable template a new index named `index` gets: the highest priority among those
    whose patterns match (the clusters refuse two overlapping ones at one priority)."""
    best: tuple[int, str, dict[str, Any]] | None = None
    for name, body in templates.items():
        if any(matches(str(p), index) for p in body.get("index_patterns", [])):
            priority = int(body.get("priority") or 0)
            if best is None or priority > best[0]:
                best = (priority, name, body)
    return None if best is None else (best[1], best[2])


# Actions after which an index takes no more writes (ISM's force_merge sets `index.blocks.write`
# and never lifts it; REAL-CLUSTERS.md §4): refused while routing can still send events there.
WRITE_BLOCKING = frozenset(
    {"forcemerge", "readonly", "shrink", "searchable_snapshot", "freeze", "downsample"}
)


def routing_conflicts(sources: list[SourceFile], max_past: timedelta) -> list[Problem]:
    """Policies that contradict the routing bounds. An index named for day D takes events until
    D + 1 day + `max_past` (an event of D's last second, `max_past` late), and its age counts from
    D (ILM's origination date, the sweeper's rule). So a delete phase, or an action that blocks
    writes, must not start before `max_past` + 1 day, or late events are acknowledged and then
    deleted (or refused for good)."""
    window = max_past + timedelta(days=1)
    problems: list[Problem] = []
    for source in sources:
        if source.kind != "ilm_policy" or not isinstance(source.body, dict):
            continue
        phases = source.body.get("policy", {}).get("phases", {})
        for name, phase in phases.items() if isinstance(phases, dict) else ():
            try:
                age = parse_duration(str(phase.get("min_age", "0ms")))
            except (ValueError, AttributeError):
                continue  # reported by the policy checks
            if age >= window:
                continue
            actions = set(phase.get("actions", {}))
            path = f"$.policy.phases.{name}"
            if "delete" in actions:
                problems.append(
                    Problem(
                        source.path,
                        f"{path}.min_age",
                        f"deletes at {phase.get('min_age')}, but routing accepts events up to "
                        f"routing.max_past ({_days(max_past)}) late, so an index takes writes "
                        f"until {_days(window)} after its day: delete later or lower max_past",
                    )
                )
            for action in sorted(actions & WRITE_BLOCKING):
                problems.append(
                    Problem(
                        source.path,
                        f"{path}.actions.{action}",
                        f"blocks writes at {phase.get('min_age')}, inside the {_days(window)} an "
                        "index still takes late events (routing.max_past + 1 day)",
                    )
                )
    return problems


def _days(value: timedelta) -> str:
    return f"{value.total_seconds() / 86400:g}d"
