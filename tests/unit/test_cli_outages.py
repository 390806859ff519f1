"""An outage is one line and exit 1, never a traceback: the replay commands with the cluster
down (a port nothing listens on), credentials in its URL masked."""

from __future__ import annotations

import socket

import pytest

from tests.support import run_cli


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
