"""One tenant's hostile entries cannot stop rotation, compression or pruning for the node.

A real tree: well-behaved tenants next to a tenant whose directories hold FIFOs, a socket,
symlinks, directories and special names where files are expected, an impossible generation
name, names with newlines, and entries the agent may not read. The agent's own commands run on
it (`indexer agent rotate --now`, `indexer agent run`), in processes without the capabilities
that bypass file permissions (setpriv), so "unreadable" is real for them although tests run as root.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import registry_files
from conftest import Clock

from indexer.agent import metrics, registry, state
from indexer.agent.maintenance import Maintenance
from indexer.agent.rotate import run_rotation
from indexer.agent.settings import AgentSettings, RotateSettings
from indexer.log import configure_logging
from indexer.settings import LogSettings
from tests.support import log_events

OLD = "20240101T000000Z"  # a generation of an earlier run
UNREAD_UID = 1234  # owns what the agent may not read


def _setpriv() -> list[str]:
    if shutil.which("setpriv") is None:
        raise RuntimeError("setpriv is not installed: apt-get install util-linux")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _env(settings: AgentSettings) -> dict[str, str]:
    return {
        **os.environ,
        "INDEXER_AGENT__LOGS_ROOT": str(settings.logs_root),
        "INDEXER_AGENT__INPUTS_DIR": str(settings.inputs_dir),
        "INDEXER_AGENT__STATE_DIR": str(settings.state_dir),
        "INDEXER_AGENT__FILEBEAT__REGISTRY_DIR": str(settings.filebeat.registry_dir),
        "INDEXER_AGENT__PRUNE__RETENTION_SECONDS": "0.01",
        "INDEXER_AGENT__METRICS__PORT": "0",
        "INDEXER_LOG__FORMAT": "json",
    }


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _socket(path: Path, short_dir: Path) -> socket.socket:
    # A unix socket path is at most 108 bytes: bind it short, then move it into place.
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(short_dir / "s"))
    os.rename(short_dir / "s", path)
    return server


def _unreadable(path: Path, text: str = "") -> Path:
    path.write_text(text)
    os.chown(path, UNREAD_UID, UNREAD_UID)
    path.chmod(0)
    return path


class Tree:
    """The node's log tree: what must be handled, and what must be left exactly as it is."""

    def __init__(self, settings: AgentSettings, tmp_path: Path) -> None:
        root = settings.logs_root
        self.settings = settings
        # Well-behaved: a live pod (its s6-log lock held) with a log and a finished generation.
        self.web = self._dir(root / "good/web/web-0/log")
        (self.web / "app.log").write_text("web line\n")
        self.web_old = self.web / f"app.log.{OLD}"
        self.web_old.write_text("old web line\n")
        (self.web / "lock").touch()
        # Well-behaved: a pod that is gone, everything shipped: pruned.
        self.gone = self._dir(root / "good/old/old-0/log").parent
        (self.gone / "log" / f"app.log.{OLD}.gz").write_bytes(b"")
        # A live pod of the hostile tenant, with every kind of entry next to a normal log.
        evil = self._dir(root / "evil/app/evil-0/log")
        self.evil = evil
        (evil / "app.log").write_text("evil line\n")
        (evil / "new\nline.log").write_text("a name with a newline is still a file\n")
        (evil / "lock").touch()
        self.target = tmp_path / "outside.log"
        self.target.write_text("must stay\n")
        self.short = Path(os.environ.get("TMPDIR", "/tmp")) / f"agent-sock-{os.getpid()}"
        self.short.mkdir(exist_ok=True)
        self.server = _socket(evil / "socket.log", self.short)
        self.kept = {
            _fifo(evil / f"app.log.{OLD}"): "fifo",  # a generation-named FIFO: would block gzip
            _fifo(evil / "fifo.log"): "fifo",
            evil / "socket.log": "socket",
            evil / "link.log": "symlink",
            evil / "dir.log": "dir",
            evil / "app.log.00000000T000000Z": "file",  # an impossible generation date
            evil / "app.log.20241399T999999Z": "file",
            _unreadable(evil / f"app.log.{OLD[:-3]}01Z"): "file",  # a generation it cannot read
        }
        (evil / "link.log").symlink_to(self.target)
        (evil / "dir.log").mkdir()
        (evil / "app.log.00000000T000000Z").touch()
        (evil / "app.log.20241399T999999Z").write_text("x\n")
        # Hostile pods: a lock that is a symlink, a `log` that is a FIFO, a `log` that is a
        # symlink to a real directory elsewhere, a `log/` nobody may list; all long quiet.
        self.link_lock = self._dir(root / "evil/app/evil-1/log").parent
        (self.link_lock / "log" / "lock").symlink_to(self.target)
        self.fifo_log = self._dir(root / "evil/app/evil-2")
        _fifo(self.fifo_log / "log")
        elsewhere = self._dir(tmp_path / "elsewhere")
        (elsewhere / "victim.log").write_text("outside the tree\n")
        self.link_log = self._dir(root / "evil/app/evil-3")
        (self.link_log / "log").symlink_to(elsewhere)
        self.elsewhere = elsewhere
        self.closed = self._dir(root / "evil/app/evil-4/log")
        (self.closed / "app.log").write_text("closed\n")
        os.chown(self.closed, UNREAD_UID, UNREAD_UID)
        self.closed.chmod(0)
        self._shipped()

    @staticmethod
    def _dir(path: Path) -> Path:
        path.mkdir(parents=True)
        return path

    def _shipped(self) -> None:
        key = registry_files.key("indexer-agent.good.web", self.web_old)
        value = registry_files.value(self.web_old, self.web_old.stat().st_size)
        registry_files.write(self.settings.filebeat.registry_dir, {key: value}, [])

    def kinds(self) -> dict[Path, str]:
        """What each hostile entry is now (it must not have changed)."""
        names = {
            stat.S_IFIFO: "fifo",
            stat.S_IFSOCK: "socket",
            stat.S_IFLNK: "symlink",
            stat.S_IFDIR: "dir",
            stat.S_IFREG: "file",
        }
        return {path: names[stat.S_IFMT(os.lstat(path).st_mode)] for path in self.kept}

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.short, ignore_errors=True)
        self.closed.chmod(0o755)  # so that tmp_path can be removed


@pytest.fixture
def tree(settings: AgentSettings, tmp_path: Path) -> Iterator[Tree]:
    update = {"registry_dir": tmp_path / "registry" / "filebeat"}
    filebeat = settings.filebeat.model_copy(update=update)
    made = Tree(settings.model_copy(update={"filebeat": filebeat}), tmp_path)
    try:
        yield made
    finally:
        made.close()


@contextlib.contextmanager
def _s6_lock_held(*lock_files: Path) -> Iterator[None]:
    """Hold a POSIX write lock on each file from this process, as a running s6-log does."""
    fds = [os.open(path, os.O_RDWR) for path in lock_files]
    try:
        for fd in fds:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        for fd in fds:
            os.close(fd)


def _assert_the_node_was_handled(tree: Tree) -> None:
    web = sorted(os.listdir(tree.web))
    assert f"app.log.{OLD}.gz" in web and f"app.log.{OLD}" not in web, web
    assert len([n for n in web if n.startswith("app.log.") and not n.endswith("Z.gz")]) == 1, web
    assert (tree.web / "app.log").stat().st_size == 0
    assert not tree.gone.exists()
    assert (tree.evil / "app.log").stat().st_size == 0  # the hostile tenant's own log rotated
    assert (tree.evil / "new\nline.log").stat().st_size == 0
    assert tree.kinds() == tree.kept  # every hostile entry left as it was
    assert tree.target.read_text() == "must stay\n"
    assert tree.link_lock.exists()  # its lock cannot be checked: kept
    assert os.listdir(tree.elsewhere) == ["victim.log"]  # never followed through `log`
    assert (tree.elsewhere / "victim.log").read_text() == "outside the tree\n"


def test_rotate_now_handles_every_other_file_and_pod_and_reports_each_hostile_entry_once(
    tree: Tree,
) -> None:
    with _s6_lock_held(tree.web / "lock", tree.evil / "lock"):
        done = subprocess.run(
            [*_setpriv(), sys.executable, "-m", "indexer", "agent", "rotate", "--now", "--force"],
            env=_env(tree.settings),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,  # a blocking open (the old FIFO bug) would hang here
        )
    assert done.returncode == 0, done.stderr
    _assert_the_node_was_handled(tree)
    skipped = log_events(done.stderr, "agent.entry_skipped")
    seen = {(s["stage"], s["kind"], s["path"]) for s in skipped}
    assert len(seen) == len(skipped), "an entry was logged twice"
    evil = tree.evil
    expected = {
        ("rotate", "wrong_type", str(evil / "fifo.log")),
        ("rotate", "wrong_type", str(evil / "socket.log")),
        ("rotate", "wrong_type", str(evil / "link.log")),
        ("rotate", "wrong_type", str(evil / "dir.log")),
        ("rotate", "wrong_type", str(evil / f"app.log.{OLD}")),
        ("rotate", "bad_name", str(evil / "app.log.00000000T000000Z")),
        ("rotate", "bad_name", str(evil / "app.log.20241399T999999Z")),
        ("compress", "permission", str(evil / f"app.log.{OLD[:-3]}01Z")),
        ("rotate", "wrong_type", str(tree.fifo_log / "log")),
        ("rotate", "wrong_type", str(tree.link_log / "log")),
        ("rotate", "permission", str(tree.closed)),
        ("prune", "wrong_type", str(tree.link_lock)),
    }
    assert expected <= seen, expected - seen


def test_the_slot_advances_and_a_second_pass_counts_again_but_logs_nothing_new(
    tree: Tree, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(LogSettings(format="json"))
    settings = tree.settings
    state.save(settings.state_dir, state.RotationState(last_slot=clock() - 7200))
    maintenance = Maintenance(settings, clock)

    def count(stage: str, kind: str) -> float:
        labels = {"stage": stage, "kind": kind}
        return metrics.REGISTRY.get_sample_value("indexer_agent_errors_total", labels) or 0.0

    before = count("rotate", "wrong_type"), count("rotate", "bad_name")
    capsys.readouterr()
    with _s6_lock_held(tree.web / "lock", tree.evil / "lock"):
        assert maintenance.tick()
        maintenance.wait()
    first = log_events(capsys.readouterr().err)
    assert maintenance.last_slot == state.load(settings.state_dir).last_slot == clock() - 1800
    assert count("rotate", "bad_name") - before[1] == 2
    assert count("rotate", "wrong_type") - before[0] >= 7
    assert first and log_events(first, "agent.rotation_run_failed") == []
    clock.advance(3600)
    with _s6_lock_held(tree.web / "lock", tree.evil / "lock"):
        assert maintenance.tick()
        maintenance.close()
    second = log_events(capsys.readouterr().err)
    assert maintenance.last_slot == clock() - 1800
    assert count("rotate", "bad_name") - before[1] == 4
    assert second and log_events(second, "agent.entry_skipped") == []


def test_the_running_agent_stops_within_its_grace_while_a_fifo_waits_to_be_compressed(
    tree: Tree, clock: Clock
) -> None:
    settings = tree.settings
    # The previous slot is an hour old, so the agent runs the current one as soon as it starts.
    state.save(settings.state_dir, state.RotationState(last_slot=time.time() - 7200))
    grace = 30  # terminationGracePeriodSeconds of deploy/base/node/daemonset.yaml
    with _s6_lock_held(tree.web / "lock", tree.evil / "lock"):
        agent = subprocess.Popen(
            [*_setpriv(), sys.executable, "-m", "indexer", "agent", "run"],
            env={**_env(tree.settings), "INDEXER_AGENT__ROTATE__MAX_SIZE_BYTES": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + grace
            while not (tree.web / f"app.log.{OLD}.gz").exists() and time.monotonic() < deadline:
                assert agent.poll() is None, agent.communicate()[1]
                time.sleep(0.1)
            agent.send_signal(signal.SIGTERM)
            _, stderr = agent.communicate(timeout=grace)
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    assert agent.returncode == 0, stderr
    assert log_events(stderr, "agent.rotation_run") and log_events(stderr, "agent.stopped")
    _assert_the_node_was_handled(tree)


def test_a_registry_with_fifos_and_malformed_operations_is_read_up_to_where_it_breaks(
    settings: AgentSettings, tmp_path: Path
) -> None:
    home = tmp_path / "registry"
    log_file = settings.logs_root / "app.log"
    log_file.write_text("line\n")
    key = registry_files.key("in", log_file)
    registry_files.write(home, {key: registry_files.value(log_file, 2)}, [])
    _fifo(home / "11.json")  # a newer "checkpoint" that would block a plain open
    operations = [
        json.dumps({"op": "set", "id": 11}),
        json.dumps({"k": key, "v": registry_files.value(log_file, 5)}),
        json.dumps({"op": "set", "id": "12"}),  # not a number: reading stops here
        json.dumps({"k": key, "v": registry_files.value(log_file, 1)}),
    ]
    (home / "log.json").write_text("\n".join(operations) + "\n")
    assert registry.load(home).acked("in", log_file) == 5
    (home / "log.json").unlink()
    _fifo(home / "log.json")
    assert registry.load(home).acked("in", log_file) == 2
    (home / "10.json").write_text("[" * 100_000)  # nested past the parser's recursion limit
    assert registry.load(home).acked("in", log_file) is None


def test_a_file_deleted_while_it_is_handled_is_skipped_not_failed_and_the_next_is_rotated(
    settings: AgentSettings, clock: Clock
) -> None:
    log_dir = settings.logs_root / "prod" / "web" / "web-0" / "log"
    log_dir.mkdir(parents=True)
    for name in ("a.log", "b.log"):
        (log_dir / name).write_text(f"{name} line\n")
        (log_dir / f"{name}.{OLD}").write_text("old\n")
    doomed = log_dir / "a.log"

    def read_and_race(path: Path) -> bool:
        # The pod goes away between the agent's listing and its handling of a.log.
        if path.name.startswith("a.log."):
            doomed.unlink(missing_ok=True)
        return True

    def vanished() -> float:
        labels = {"stage": "rotate", "kind": "vanished"}
        return metrics.REGISTRY.get_sample_value("indexer_agent_errors_total", labels) or 0.0

    before = vanished()
    rules = RotateSettings(max_size_bytes=None, max_age_seconds=None)
    report = run_rotation(
        settings.logs_root, rules, state.RotationState(), clock, None, read_and_race
    )
    assert report.failed == [] and vanished() - before == 1
    assert [p.name for p in report.rotated] == ["b.log.20240310T093000Z"]
    assert (log_dir / "b.log").stat().st_size == 0
