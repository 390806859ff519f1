"""An outage is one line and exit 1, a user's mistake one line and exit 2, never a traceback:
every command with the cluster, Kibana or Dashboards down (a port nothing listens on) or never
answering, credentials in a URL masked; a YAML syntax error in `--config` for every command; the
agent with a bad setting."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.support import log_events, run_cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (("deadletter", "replay"), "indexer deadletter replay"),
        (("deadletter", "replay", "--dry-run"), "indexer deadletter replay"),
        (("replay", "--since", "2026-01-01", "--until", "2026-01-02"), "indexer replay"),
    ],
)
def test_a_replay_with_the_cluster_down_is_one_line_and_exit_1(
    command: tuple[str, ...], named: str
) -> None:
    port = _closed_port()
    result = run_cli(
        *command,
        INDEXER_ELASTICSEARCH__HOSTS=f"http://elastic:es-pw@127.0.0.1:{port}",
        INDEXER_KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{_closed_port()}",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{named}: ClusterUnavailable: ")
    assert f"port={port}" in lines[0]
    assert "Traceback" not in result.stderr and "es-pw" not in result.stderr


def _one_line(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "es-pw" not in result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("command", "starts"),
    [
        (("setup",), "setup: the cluster did not answer as expected: ConnectionError"),
        (("setup", "--dry-run"), "setup: the cluster did not answer as expected"),
        (("logs", "shop"), "indexer logs: cannot reach the cluster at http://**********@127"),
        (("kibana", "setup"), "kibana setup: cannot list the namespaces' indices"),
        (("dashboards", "setup"), "dashboards setup: cannot list the namespaces' indices"),
    ],
)
def test_a_command_with_the_cluster_down_is_one_line_and_exit_1(
    command: tuple[str, ...], starts: str
) -> None:
    down = f"http://127.0.0.1:{_closed_port()}"
    line = _one_line(
        run_cli(
            *command,
            INDEXER_ELASTICSEARCH__HOSTS=down.replace("//", "//elastic:es-pw@"),
            INDEXER_KIBANA__URL=down,
            INDEXER_DASHBOARDS__URL=down,
        ),
        1,
    )
    assert line.startswith(starts), line


@pytest.mark.parametrize("tool", ["kibana", "dashboards"])
def test_setting_up_kibana_or_dashboards_while_it_is_down_is_one_line_and_exit_1(
    tool: str,
) -> None:
    down = f"http://127.0.0.1:{_closed_port()}"
    env = {f"INDEXER_{tool.upper()}__URL": down}
    line = _one_line(run_cli(tool, "setup", "--namespace", "shop", **env), 1)
    assert line.startswith(f"{tool} setup: ") and down in line and "refused" in line, line


def test_setup_against_a_cluster_that_never_answers_names_the_host_and_the_timeout() -> None:
    with socket.socket() as silent:  # listens, never accepts: nothing ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        result = run_cli(
            "setup",
            INDEXER_ELASTICSEARCH__HOSTS=url,
            INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS="1",
        )
    line = _one_line(result, 1)
    assert f"no answer from {url} within 1 s" in line, line
    assert "INDEXER_ELASTICSEARCH__STARTUP_TIMEOUT_SECONDS" in line


@pytest.mark.parametrize(
    "command",
    [("run",), ("setup",), ("agent",), ("agent", "render", "--once"), ("logs", "shop")],
)
def test_a_yaml_syntax_error_is_one_line_and_exit_2_for_every_command(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    config = tmp_path / "indexer.yaml"
    config.write_text("agent:\n  rotate: [keep: 3\n")
    line = _one_line(run_cli("--config", str(config), *command), 2)
    assert line.startswith(f"--config {config}: not valid YAML: ") and "line 3" in line, line


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"INDEXER_AGENT__ROTATE__KEEP": "0"}, "setting agent.rotate.keep"),
        ({"INDEXER_AGENT__ROTATE__KEEPX": "3"}, "INDEXER_AGENT__ROTATE__KEEPX: not a setting"),
        ({"INDEXER_AGENT__SETTLE_SECONDS": "soon"}, "setting agent.settle_seconds"),
    ],
)
def test_the_agent_with_a_bad_setting_is_one_line_naming_it_and_exit_2(
    env: dict[str, str], named: str
) -> None:
    line = _one_line(run_cli("agent", **env), 2)
    assert line.startswith(named), line


@pytest.mark.parametrize(
    ("command", "env", "starts"),
    [
        (("agent",), "INDEXER_AGENT__METRICS__PORT", "indexer agent: cannot listen on 127.0.0.1:"),
        (("run",), "INDEXER_METRICS__PORT", "exiting: cannot listen on 127.0.0.1:"),
    ],
)
def test_a_metrics_port_already_taken_is_one_line_naming_the_setting_and_exit_1(
    command: tuple[str, ...], env: str, starts: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = run_cli(
            *command,
            **{env: port, env.replace("PORT", "HOST"): "127.0.0.1"},
            INDEXER_AGENT__LOGS_ROOT=str(tmp_path),
            INDEXER_AGENT__INPUTS_DIR=str(tmp_path / "inputs"),
            INDEXER_AGENT__STATE_DIR=str(tmp_path / "state"),
            INDEXER_LOG__FORMAT="json",
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "cannot listen" in line]
    assert len(lines) == 1, result.stderr
    shown = lines[0]
    if command == ("run",):  # the indexer's `exiting` log line
        (exiting,) = log_events(result.stderr, "exiting")
        shown = exiting["message"]
    assert shown.startswith(starts + port), shown
    assert "__PORT" in shown and "Address already in use" in shown
