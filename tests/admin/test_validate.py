"""Offline validation: the shipped files pass; every broken fixture fails with its own message."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from indexer.admin.settings import DEFAULT_POLICIES_DIR, DEFAULT_TEMPLATES_DIR
from indexer.admin.sources import read_sources
from indexer.admin.validate import globs_overlap, validate_sources
from indexer.cli import main

REPO = Path(__file__).resolve().parents[2]


def problems_of(templates: Path, policies: Path) -> list[str]:
    sources, errors = read_sources(templates, policies)
    return errors + [str(p) for p in validate_sources(sources)]


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    templates, policies = tmp_path / "index_templates", tmp_path / "ilm"
    shutil.copytree(DEFAULT_TEMPLATES_DIR, templates)
    shutil.copytree(DEFAULT_POLICIES_DIR, policies)
    return templates, policies


def test_every_shipped_file_validates_cleanly() -> None:
    sources, errors = read_sources(DEFAULT_TEMPLATES_DIR, DEFAULT_POLICIES_DIR)
    assert errors == []
    assert validate_sources(sources) == []
    assert {s.name for s in sources} >= {
        "k8s-logs-apps",
        "k8s-logs-deadletter",
        "k8s-logs-7d",
        "k8s-logs-30d",
    }


def test_the_repository_root_directories_are_the_packaged_files() -> None:
    assert (REPO / "index_templates").resolve() == DEFAULT_TEMPLATES_DIR
    assert (REPO / "ilm").resolve() == DEFAULT_POLICIES_DIR


def edit(path: Path, change: Any) -> None:
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))


BROKEN = {
    "rollover in hot": (
        "ilm/k8s-logs-7d.json",
        lambda b: b["policy"]["phases"]["hot"]["actions"].update(rollover={"max_age": "1d"}),
        "k8s-logs-7d.json: $.policy.phases.hot.actions.rollover: daily indices are written "
        "directly: no rollover",
    ),
    "forcemerge in hot without rollover": (
        "ilm/k8s-logs-7d.json",
        lambda b: b["policy"]["phases"]["hot"]["actions"].update(forcemerge={}),
        "$.policy.phases.hot.actions.forcemerge: needs rollover in the hot phase",
    ),
    "action in the wrong phase": (
        "ilm/k8s-logs-30d.json",
        lambda b: b["policy"]["phases"]["delete"]["actions"].update(shrink={}),
        "k8s-logs-30d.json: $.policy.phases.delete.actions.shrink: action not allowed in the delete",
    ),
    "unknown phase": (
        "ilm/k8s-logs-7d.json",
        lambda b: b["policy"]["phases"].update(lukewarm={"actions": {}}),
        "$.policy.phases.lukewarm: unknown phase",
    ),
    "min_age not increasing": (
        "ilm/k8s-logs-30d.json",
        lambda b: b["policy"]["phases"]["cold"].update(min_age="1d"),
        "$.policy.phases.cold.min_age: must be greater than the warm phase's min_age",
    ),
    "bad min_age": (
        "ilm/k8s-logs-7d.json",
        lambda b: b["policy"]["phases"]["delete"].update(min_age="a week"),
        "$.policy.phases.delete.min_age: 'a week' is not a time value",
    ),
    "policy without version": (
        "ilm/k8s-logs-7d.json",
        lambda b: b["policy"]["_meta"].pop("version"),
        "$.policy._meta.version: missing",
    ),
    "unknown top-level key": (
        "index_templates/index/k8s-logs-apps.json",
        lambda b: b.update(index_pattern=["typo-*"]),
        "k8s-logs-apps.json: $.index_pattern: unknown key",
    ),
    "template without version": (
        "index_templates/component/k8s-logs-settings.json",
        lambda b: b.pop("version"),
        "k8s-logs-settings.json: $.version: missing",
    ),
    "missing component": (
        "index_templates/index/k8s-logs-apps.json",
        lambda b: b["composed_of"].append("k8s-logs-nothing"),
        "$.composed_of[2]: component template 'k8s-logs-nothing' has no file",
    ),
    "missing policy": (
        "index_templates/index/k8s-logs-deadletter.json",
        lambda b: b["template"]["settings"]["index"]["lifecycle"].update(name="k8s-logs-90d"),
        "$.template.settings.index.lifecycle.name: policy 'k8s-logs-90d' has no file",
    ),
    "unknown field type": (
        "index_templates/component/k8s-logs-mappings.json",
        lambda b: b["template"]["mappings"]["properties"]["message"].update(type="txt"),
        "$.template.mappings.properties.message.type: unknown type 'txt'",
    ),
    "properties under a leaf": (
        "index_templates/component/k8s-logs-mappings.json",
        lambda b: b["template"]["mappings"]["properties"]["@timestamp"].update(properties={}),
        "$.template.mappings.properties.@timestamp.properties: a date field cannot have",
    ),
    "ignore_above on text": (
        "index_templates/component/k8s-logs-mappings.json",
        lambda b: b["template"]["mappings"]["properties"]["message"].update(ignore_above=10),
        "$.template.mappings.properties.message.ignore_above: not a parameter of match_only_text "
        "fields",
    ),
    "overlap at equal priority": (
        "index_templates/index/k8s-logs-unmatched.json",
        lambda b: b.update(index_patterns=["k8s-logs-dead*"]),
        "k8s-logs-unmatched.json: $.index_patterns: 'k8s-logs-dead*' overlaps 'k8s-logs-deadletter-*' of "
        "k8s-logs-deadletter.json at the same priority 530",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_fixture_fails_with_a_message_naming_file_and_json_path(
    case: str, dirs: tuple[Path, Path]
) -> None:
    relative, change, expected = BROKEN[case]
    root = dirs[0].parent
    edit(root / relative, change)
    problems = problems_of(*dirs)
    assert any(expected in p for p in problems), problems
    assert len(problems) == 1, problems


def test_invalid_json_is_reported_with_its_line(dirs: tuple[Path, Path]) -> None:
    (dirs[1] / "k8s-logs-7d.json").write_text('{\n  "policy": {,\n}')
    problems = problems_of(*dirs)
    assert len(problems) == 1
    assert "k8s-logs-7d.json:2:" in problems[0] and "invalid JSON" in problems[0]


def test_glob_overlap_is_decided_exactly() -> None:
    assert globs_overlap("k8s-logs-*", "k8s-logs-deadletter-*")
    assert globs_overlap(
        "k8s-logs-*_*", "k8s-logs-deadletter-*"
    )  # k8s-logs-deadletter-a_b matches both
    assert not globs_overlap("k8s-logs-a_*", "k8s-logs-ab_*")
    assert not globs_overlap("k8s-logs-a-b_*", "k8s-logs-a_*")


def test_the_validate_command_exits_1_on_errors_and_0_on_the_shipped_files(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["templates", "validate"]) == 0
    edit(
        dirs[1] / "k8s-logs-7d.json",
        lambda b: b["policy"]["phases"]["hot"]["actions"].update(rollover={}),
    )
    code = main(
        ["templates", "validate", "--templates-dir", str(dirs[0]), "--policies-dir", str(dirs[1])]
    )
    assert code == 1
    assert "$.policy.phases.hot.actions.rollover" in capsys.readouterr().err


def test_validate_names_a_setting_that_refers_to_a_missing_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INDEXER_LIFECYCLE__NAMESPACE_POLICIES", '{"prod-*": "k8s-logs-90d"}')
    assert main(["templates", "validate"]) == 1
    assert "'k8s-logs-90d', which has no file" in capsys.readouterr().err


def test_validate_refuses_policies_that_delete_or_block_writes_inside_the_routing_window(
    dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    templates, policies = dirs
    edit(
        policies / "k8s-logs-30d.json",
        lambda b: b["policy"]["phases"]["warm"]["actions"].update(
            forcemerge={"max_num_segments": 1}
        ),
    )
    args = ["templates", "validate", "--templates-dir", str(templates)]
    assert main([*args, "--policies-dir", str(policies)]) == 1
    err = capsys.readouterr().err
    assert "k8s-logs-30d.json: $.policy.phases.warm.actions.forcemerge: blocks writes at 2d" in err

    monkeypatch.setenv("INDEXER_ROUTING__MAX_PAST", "P30D")
    assert main(["templates", "validate"]) == 1
    err = capsys.readouterr().err
    assert "k8s-logs-7d.json: $.policy.phases.delete.min_age: deletes at 7d" in err
    assert "routing.max_past (30d)" in err
