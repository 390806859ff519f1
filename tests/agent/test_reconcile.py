"""Reconcile: one input per valid app directory, removals only after the grace period."""

from __future__ import annotations

from pathlib import Path

from conftest import Clock, PodMaker

from indexer.agent.reconcile import Reconciler
from indexer.agent.render import covers, file_name, input_for, parse_input
from indexer.agent.settings import AgentSettings


def _inputs(settings: AgentSettings) -> list[str]:
    return sorted(p.name for p in settings.inputs_dir.glob("*.yml"))


def test_invalid_kubernetes_names_and_names_with_a_dollar_brace_get_no_input(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0")
    invalid = [("prod", "_web"), ("prod", "web-"), ("prod", "a b"), ("prod", "x" * 64)]
    invalid += [("prod", "${env.HOME}"), ("Prod", "web"), ("my_prod", "web")]
    for ns, app in invalid:
        (settings.logs_root / ns / app).mkdir(parents=True, exist_ok=True)
    (settings.logs_root / "${x}").mkdir()
    Reconciler(settings).reconcile()
    assert _inputs(settings) == [file_name("prod", "web")]


def test_app_directories_named_after_any_label_value_get_an_input_that_reads_their_logs(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    apps = ["Cart-API", "cart-api", "ledger_v2", "web.v2", "A" * 63]
    logs = [make_pod("shop", app, "pod-0", "current", "app.log") for app in apps]
    Reconciler(settings).reconcile()
    assert _inputs(settings) == sorted(file_name("shop", app) for app in apps)
    for app, log_dir in zip(apps, logs, strict=True):
        text = (settings.inputs_dir / file_name("shop", app)).read_text()
        rendered = parse_input(settings, text, "shop", app)
        assert rendered["id"] == f"indexer-agent.shop.{app}"
        assert rendered["fields"] == {"namespace": "shop", "app": app}
        for name in ("current", "app.log"):
            path = str(log_dir / name)
            readers = [o for o in apps if covers(input_for(settings, "shop", o), path)]
            assert readers == [app], path


def test_an_input_outlives_its_app_directory_by_the_grace_period_only(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    monotonic = Clock(100.0)
    reconciler = Reconciler(settings.model_copy(update={"removal_grace_seconds": 60}), monotonic)
    log_dir = make_pod("prod", "web", "web-0")
    reconciler.reconcile()
    app_dir = log_dir.parent.parent
    for path in sorted(app_dir.rglob("*"), reverse=True):
        path.rmdir()
    app_dir.rmdir()
    assert reconciler.reconcile().waiting == [("prod", "web")]
    monotonic.advance(59)
    reconciler.reconcile()
    assert _inputs(settings) == [file_name("prod", "web")]
    monotonic.advance(1)
    assert reconciler.reconcile().removed == [("prod", "web")]
    assert _inputs(settings) == []


def test_an_app_that_comes_back_within_the_grace_period_keeps_its_input_untouched(
    settings: AgentSettings, make_pod: PodMaker, tmp_path: Path
) -> None:
    monotonic = Clock(0.0)
    reconciler = Reconciler(settings.model_copy(update={"removal_grace_seconds": 60}), monotonic)
    make_pod("prod", "web", "web-0")
    reconciler.reconcile()
    path = settings.inputs_dir / file_name("prod", "web")
    inode = path.stat().st_ino
    (settings.logs_root / "prod" / "web").rename(tmp_path / "parked")
    reconciler.reconcile()
    monotonic.advance(30)
    (tmp_path / "parked").rename(settings.logs_root / "prod" / "web")
    reconciler.reconcile()
    monotonic.advance(60)
    outcome = reconciler.reconcile()
    assert outcome.removed == [] and outcome.written == []
    assert path.stat().st_ino == inode


def test_files_in_inputs_d_that_are_not_ours_are_left_alone(
    settings: AgentSettings, tmp_path: Path
) -> None:
    settings.inputs_dir.mkdir()
    foreign = settings.inputs_dir / "system.yml"
    foreign.write_text("- type: filestream\n  id: system\n")
    Reconciler(settings).reconcile()
    assert foreign.read_text() == "- type: filestream\n  id: system\n"


def test_written_inputs_pass_filebeats_strict_permission_check(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0")
    Reconciler(settings).reconcile()
    info = (settings.inputs_dir / file_name("prod", "web")).stat()
    assert info.st_uid == 0 and info.st_mode & 0o022 == 0 and info.st_mode & 0o777 == 0o644


def test_a_restarted_agent_keeps_counting_the_grace_period_instead_of_starting_over(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    clock = Clock(1_000.0)
    graced = settings.model_copy(update={"removal_grace_seconds": 60})
    log_dir = make_pod("prod", "web", "web-0")
    Reconciler(graced, clock).reconcile()
    app_dir = log_dir.parent.parent
    for path in sorted(app_dir.rglob("*"), reverse=True):
        path.rmdir()
    app_dir.rmdir()
    assert Reconciler(graced, clock).reconcile().waiting == [("prod", "web")]
    clock.advance(45)
    restarted = Reconciler(graced, clock)  # a new process: only the state on disk remains
    assert restarted.reconcile().waiting == [("prod", "web")]
    clock.advance(15)
    assert restarted.reconcile().removed == [("prod", "web")]
    assert _inputs(settings) == []
