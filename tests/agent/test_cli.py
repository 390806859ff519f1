"""The `indexer agent` commands, settings from the environment, and what the agent imports."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import PodMaker

import indexer.agent as agent_package
from indexer.agent.endpoints import serve
from indexer.agent.metrics import Liveness
from indexer.agent.settings import AgentSettings
from indexer.settings import load_settings


def _env(settings: AgentSettings) -> dict[str, str]:
    return {
        **os.environ,
        "INDEXER_AGENT__LOGS_ROOT": str(settings.logs_root),
        "INDEXER_AGENT__INPUTS_DIR": str(settings.inputs_dir),
        "INDEXER_AGENT__STATE_DIR": str(settings.state_dir),
        "INDEXER_AGENT__ROTATE__MAX_SIZE_BYTES": "1",
    }


def test_agent_settings_come_from_indexer_agent_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("INDEXER_AGENT__ROTATE__KEEP", "3")
    monkeypatch.setenv("INDEXER_AGENT__EXCLUDE_GLOBS", '["*.gz"]')
    agent = load_settings().agent
    assert agent.rotate.keep == 3 and agent.exclude_globs == ["*.gz"]
    assert agent.rotate.strategy == "rename"


_FORBIDDEN_CHECK = """
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("confluent_kafka", "elasticsearch"))
print(loaded)
"""
_AGENT_COMMANDS = """
with contextlib.redirect_stdout(io.StringIO()):
    for argv in (
        ["agent", "render", "--once", "--dry-run"],
        ["agent", "render", "--once"],
        ["agent", "rotate", "--now"],
        ["agent", "rotate"],
    ):
        args = parser.parse_args(argv)
        assert args.handler(args) == 0, argv
"""


def _loaded_after(settings: AgentSettings, script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script + _FORBIDDEN_CHECK],
        env=_env(settings),
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_agent_and_running_its_commands_loads_neither_kafka_nor_elasticsearch(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0", "app.log")
    modules = [p.stem for p in Path(agent_package.__file__).parent.glob("*.py")]
    script = f"""
import argparse, contextlib, importlib, io, sys
for name in {modules!r}:
    importlib.import_module("indexer.agent." + name)
from indexer.agent.cli import register
parser = argparse.ArgumentParser()
parser.add_argument("--config", default=None)
register(parser.add_subparsers())
{_AGENT_COMMANDS}
"""
    assert _loaded_after(settings, script) == "[]"


def test_the_full_indexer_command_running_agent_subcommands_loads_neither(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0", "app.log")
    script = f"""
import contextlib, io, sys
from indexer.cli import build_parser
parser = build_parser()
{_AGENT_COMMANDS}
"""
    assert _loaded_after(settings, script) == "[]"


def test_render_dry_run_prints_the_inputs_and_writes_nothing(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    make_pod("prod", "web", "web-0")
    done = subprocess.run(
        [sys.executable, "-m", "indexer", "agent", "render", "--once", "--dry-run"],
        env=_env(settings),
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"# {settings.inputs_dir}/indexer-agent.prod.web.yml" in done.stdout
    assert 'id: "indexer-agent.prod.web"' in done.stdout
    assert not settings.inputs_dir.exists()


def test_rotate_now_rotates_the_files_its_rules_select(
    settings: AgentSettings, make_pod: PodMaker
) -> None:
    log_dir = make_pod("prod", "web", "web-0", "app.log")
    done = subprocess.run(
        [sys.executable, "-m", "indexer", "agent", "rotate", "--now"],
        env=_env(settings),
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert len(os.listdir(log_dir)) == 2 and (log_dir / "app.log").stat().st_size == 0


def test_healthz_reports_a_stalled_loop_and_metrics_use_the_agent_prefix(tmp_path: Path) -> None:
    liveness = Liveness(timeout_seconds=0.2)
    server = serve("127.0.0.1", 0, liveness)
    base = f"http://127.0.0.1:{server.port}"
    try:
        liveness.beat()
        assert urllib.request.urlopen(f"{base}/healthz").status == 200
        body = urllib.request.urlopen(f"{base}/metrics").read().decode()
        assert "indexer_agent_rotations_total" in body
        assert "indexer_agent_heartbeat_timestamp_seconds" in body
        liveness._last -= 1
        try:
            urllib.request.urlopen(f"{base}/healthz")
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503
    finally:
        server.close()
