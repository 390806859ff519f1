"""Rendered inputs: valid filestream YAML, stable unique ids, no overlap, rotations excluded."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from indexer.agent.globs import path_matches
from indexer.agent.reconcile import Reconciler
from indexer.agent.render import (
    RenderError,
    app_of_file,
    covers,
    file_name,
    input_for,
    input_id,
    parse_input,
    render_text,
)
from indexer.agent.settings import AgentSettings

APPS = [("prod", "web"), ("prod", "web.api"), ("prod", "web-api"), ("dev", "web"), ("prod", "w")]


def test_each_rendered_file_is_a_yaml_list_of_one_filestream_input_with_namespace_and_app_fields(
    settings: AgentSettings,
) -> None:
    data = yaml.safe_load(render_text(settings, "prod", "web"))
    assert isinstance(data, list) and len(data) == 1
    rendered = data[0]
    assert rendered["type"] == "filestream"
    assert rendered["id"] == "indexer-agent.prod.web"
    assert rendered["fields"] == {"namespace": "prod", "app": "web"}
    assert rendered["paths"] == [
        f"{settings.logs_root}/prod/web/*/log/*.log",
        f"{settings.logs_root}/prod/web/*/log/current",
    ]
    assert rendered["close.on_state_change.removed"] is False


def test_ids_and_file_names_are_unique_and_depend_only_on_namespace_and_app(
    settings: AgentSettings, tmp_path: Path
) -> None:
    ids = {input_id(*key) for key in APPS}
    assert len(ids) == len(APPS)
    elsewhere = settings.model_copy(update={"logs_root": tmp_path / "other"})
    assert all(input_for(elsewhere, *k)["id"] == input_for(settings, *k)["id"] for k in APPS)
    assert all(app_of_file(file_name(*key)) == key for key in APPS)
    assert app_of_file("filebeat-system.yml") is None


def test_no_file_of_a_tree_is_read_by_two_inputs_and_every_live_log_by_exactly_one(
    settings: AgentSettings,
) -> None:
    inputs = {key: input_for(settings, *key) for key in APPS}
    names = ["app.log", "current", "app.log.20240310T093000Z", "app.log.20240310T093000Z.gz"]
    names += ["@400000006543a1b20c0ffee0.s", "@400000006543a1b20c0ffee0.u", "lock", "state"]
    for (ns, app), pod, name in itertools.product(APPS, ["p-1", "p.2"], names):
        path = f"{settings.logs_root}/{ns}/{app}/{pod}/log/{name}"
        readers = [key for key, rendered in inputs.items() if covers(rendered, path)]
        expected = [(ns, app)] if name in ("app.log", "current") else []
        assert readers == expected, path


def test_covers_needs_a_path_glob_match_and_no_exclusion(settings: AgentSettings) -> None:
    rendered = input_for(settings, "prod", "web")
    root = settings.logs_root
    assert covers(rendered, f"{root}/prod/web/web-0/log/access.log")
    assert not covers(rendered, f"{root}/prod/web/web-0/log/deep/access.log")
    assert not covers(rendered, f"{root}/prod/web/web-0/log/access.log.gz")
    assert not covers(rendered, f"{root}/prod/webx/web-0/log/access.log")
    assert not covers(rendered, f"{root}/prod/web/web-0/access.log")


def test_globs_follow_go_filepath_match_rules() -> None:
    assert path_matches("/a/*/b", "/a/x.y/b")
    assert not path_matches("/a/*/b", "/a/x/y/b")
    assert path_matches("/a/?.log", "/a/1.log")
    assert path_matches("/a/[0-9]x", "/a/7x")
    assert not path_matches("/a/[!0-9]x", "/a/7x")
    assert path_matches("/a/\\*", "/a/*")
    assert not path_matches("/a/\\*", "/a/b")


def test_a_parsed_back_input_must_belong_to_its_app(settings: AgentSettings) -> None:
    text = render_text(settings, "prod", "web")
    with pytest.raises(RenderError):
        parse_input(settings, text, "prod", "other")
    with pytest.raises(RenderError):
        parse_input(settings, "- type: log\n", "prod", "web")
    with pytest.raises(RenderError):
        parse_input(settings, "{unclosed", "prod", "web")


def test_an_override_template_is_used_and_an_undefined_variable_fails_the_render(
    settings: AgentSettings, tmp_path: Path
) -> None:
    good = tmp_path / "good.j2"
    good.write_text(
        "- type: filestream\n  id: {{ id | tojson }}\n  paths: {{ paths | tojson }}\n"
        "  harvester_buffer_size: 65536\n"
    )
    custom = settings.model_copy(update={"template_file": good})
    assert input_for(custom, "prod", "web")["harvester_buffer_size"] == 65536
    bad = tmp_path / "bad.j2"
    bad.write_text("- type: filestream\n  id: {{ identifier }}\n")
    broken = settings.model_copy(update={"template_file": bad})
    (settings.logs_root / "prod" / "web").mkdir(parents=True)
    outcome = Reconciler(broken).reconcile()
    assert (
        outcome.written == []
        and not settings.inputs_dir.joinpath(file_name("prod", "web")).exists()
    )
