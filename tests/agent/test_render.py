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
APPS += [("prod", "Web"), ("prod", "web_api"), ("prod", "Cart-API"), ("prod", "ledger_v2")]


def test_each_rendered_file_is_a_yaml_list_of_one_filestream_input_with_namespace_and_app_fields(
    settings: AgentSettings,
) -> None:
    data = yaml.safe_load(render_text(settings, "prod", "web"))
    assert isinstance(data, list) and len(data) == 1
    rendered = data[0]
    assert rendered["type"] == "filestream"
    assert rendered["id"] == "indexer-agent.prod.web"
    assert rendered["fields"] == {"namespace": "prod", "app": "web"}
    app_dir = f"{settings.logs_root}/prod/web/*/log"
    assert rendered["paths"] == [
        f"{app_dir}/current",
        f"{app_dir}/previous",
        f"{app_dir}/@*.s",
        f"{app_dir}/@*.u",
        f"{app_dir}/*.log",
        f"{app_dir}/*.log.????????T??????Z",
    ]
    assert rendered["close.on_state_change.removed"] is False
    assert rendered["close.on_state_change.renamed"] is False
    assert rendered["clean_removed"] is True


def test_file_identity_is_native_on_filebeat_8_and_9_and_lines_are_capped_below_kafkas_limit(
    settings: AgentSettings,
) -> None:
    rendered = input_for(settings, "prod", "web")
    assert "file_identity.native" in rendered and rendered["file_identity.native"] is None
    assert rendered["prospector.scanner.fingerprint.enabled"] is False
    assert rendered["prospector.scanner.check_interval"] == "1s"
    assert rendered["close.on_state_change.inactive"] == "300s"
    assert rendered["message_max_bytes"] == 131072
    assert "rotation.external.strategy.copytruncate" not in rendered


def test_the_copytruncate_strategy_matches_the_agents_generation_names(
    settings: AgentSettings, tmp_path: Path
) -> None:
    import re

    from indexer.agent.rotate import rotate_file

    custom = settings.model_copy(
        update={"rotate": settings.rotate.model_copy(update={"strategy": "copytruncate"})}
    )
    strategy = input_for(custom, "prod", "web")["rotation.external.strategy.copytruncate"]
    path = tmp_path / "app.log"
    path.write_text("x\n")
    target = rotate_file(path, "copytruncate", 1710063000.0)
    assert target is not None and re.search(strategy["suffix_regex"], target.name)
    assert not re.search(strategy["suffix_regex"], path.name)
    # the Go layout has exactly the length of the stamp it parses
    assert len(strategy["dateformat"]) == len("20240310T093000Z")


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
    read = ["app.log", "current", "previous", "app.log.20240310T093000Z"]
    read += ["@400000006543a1b20c0ffee0.s", "@400000006543a1b20c0ffee0.u"]
    unread = ["app.log.20240310T093000Z.gz", ".app.log.agent-new", "lock", "state", "processed"]
    names = read + unread + ["newstate"]
    for (ns, app), pod, name in itertools.product(APPS, ["p-1", "p.2"], names):
        path = f"{settings.logs_root}/{ns}/{app}/{pod}/log/{name}"
        readers = [key for key, rendered in inputs.items() if covers(rendered, path)]
        expected = [(ns, app)] if name in read else []
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
