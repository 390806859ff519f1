"""Issue 15: the built images, run with podman.

`make image-smoke` builds the indexer image and the Debian-s6 app base image (with the sample app)
and runs this module with SMOKE_INDEXER_IMAGE and SMOKE_APP_IMAGE naming them. Without them (`make
test`, which needs no podman) every test here is skipped, with that reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

INDEXER_IMAGE = os.environ.get("SMOKE_INDEXER_IMAGE", "")
APP_IMAGE = os.environ.get("SMOKE_APP_IMAGE", "")
pytestmark = pytest.mark.skipif(
    not (INDEXER_IMAGE and APP_IMAGE and shutil.which("podman")),
    reason="image tests run under `make image-smoke`, which builds the images with podman first"
    " (SMOKE_INDEXER_IMAGE / SMOKE_APP_IMAGE unset, or no podman)",
)
TOPIC = "filebeat-image-smoke"
EVENTS = 40
APP_UID, LOG_UID = 10001, 10002


def podman(
    *args: str, timeout: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check:
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.returncode}\n{proc.stderr}"
    return proc


def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """A throwaway container of the indexer image (`--rm`); returns its output."""
    return podman("run", "--rm", "--network", "none", *args, timeout=timeout)


@pytest.fixture
def container_names() -> Iterator[list[str]]:
    """Names of containers a test starts; all removed at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        podman("rm", "--force", "--time", "2", name, check=False)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---- the indexer image --------------------------------------------------------------------------


def test_help_lists_the_commands_the_manifests_run() -> None:
    out = run(INDEXER_IMAGE, "--help").stdout
    assert out.startswith("usage: indexer")
    for command in ("run", "setup", "agent", "config"):
        assert re.search(rf"\b{command}\b", out), command


def test_config_show_resolves_settings_from_the_environment() -> None:
    out = run(
        "-e", "INDEXER_KAFKA__BOOTSTRAP_SERVERS=kafka-0.example:9093",
        "-e", "INDEXER_ELASTICSEARCH__API_KEY=c2VjcmV0OnNlY3JldA==",
        INDEXER_IMAGE, "config", "show",
    ).stdout  # fmt: skip
    assert "bootstrap_servers: kafka-0.example:9093" in out
    assert "c2VjcmV0" not in out, "the API key must be masked"


def test_the_image_runs_the_native_core() -> None:
    """The image sets INDEXER_CORE=native and carries the core built from this tree: the core
    passes its start-up self-check in the image's own Python (an image that lost its core, or
    carries one of another contract, says `none, start-up would fail` here)."""
    config = json.loads(podman("image", "inspect", INDEXER_IMAGE).stdout)[0]["Config"]
    assert "INDEXER_CORE=native" in config["Env"]
    out = run(INDEXER_IMAGE, "config", "show").stdout
    assert out.splitlines()[-1] == "# core in use: native (core: native)", out[-500:]


def test_the_image_runs_as_uid_10001_without_compilers_or_pip_caches() -> None:
    config = json.loads(podman("image", "inspect", INDEXER_IMAGE).stdout)[0]["Config"]
    assert config["User"] == f"{APP_UID}:{APP_UID}"
    assert config["Entrypoint"] == ["indexer"]
    ids = run("--entrypoint", "id", INDEXER_IMAGE).stdout.split()
    assert ids[:2] == [f"uid={APP_UID}(indexer)", f"gid={APP_UID}(indexer)"]
    script = (
        "for c in gcc cc c++ g++ clang make as ld x86_64-linux-gnu-gcc aarch64-linux-gnu-gcc; do"
        " command -v $c; done; ls -d /root/.cache/pip /opt/build /tmp/wheels /tmp/core 2>/dev/null;"
        " command -v rustc cargo maturin; true"
    )
    found = run("--entrypoint", "sh", INDEXER_IMAGE, "-c", script).stdout.split()
    assert found == []


def _produce(bootstrap: str) -> list[str]:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    from indexer.sample import sources, stream
    from tests.support import expected_source

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, 2, 1)]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    messages = []
    start = datetime.now(UTC) - timedelta(minutes=30)
    for source, value in stream(sources(1, 2, 1), EVENTS, start, days=0, seed=15):
        producer.produce(TOPIC, value, key=source.path.encode())
        messages.append(expected_source(value)["message"])
    assert producer.flush(10) == 0
    return messages


def _get(port: int, path: str) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        return json.loads(reply.read())


def _documents(port: int) -> int:
    """Documents in every index of the ES-API server, whatever the indices are called."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_refresh", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    rows = _get(port, "/_cat/indices?format=json&h=index,docs.count")
    assert isinstance(rows, list)
    return sum(int(row["docs.count"] or 0) for row in rows)


def test_indexer_run_in_the_image_indexes_events_end_to_end(container_names: list[str]) -> None:
    from indexer.embedded import CompatProxy, start_kafka, start_opensearch

    kafka = start_kafka()
    search = start_opensearch()
    proxy = CompatProxy(search.port).start()
    try:
        messages = _produce(f"127.0.0.1:{kafka.port}")
        name = unique("indexer-smoke")
        container_names.append(name)
        settings = {
            "INDEXER_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka.port}",
            "INDEXER_KAFKA__OPTIONS": '{"session.timeout.ms":6000,"heartbeat.interval.ms":500}',
            "INDEXER_ELASTICSEARCH__HOSTS": f'["{proxy.url}"]',
            "INDEXER_METRICS__HOST": "127.0.0.1",
            "INDEXER_METRICS__PORT": "0",  # never read here; bound by the process itself
            "INDEXER_BATCH__MAX_AGE_SECONDS": "0.2",
            "INDEXER_LOG__FORMAT": "json",
        }
        env = [arg for key, value in settings.items() for arg in ("-e", f"{key}={value}")]
        podman("run", "--detach", "--name", name, "--network", "host", *env, INDEXER_IMAGE, "run")
        deadline = time.monotonic() + 90
        count = 0
        while time.monotonic() < deadline:
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            assert state == "running", podman("logs", name).stderr[-3000:]
            count = _documents(search.port)
            if count >= EVENTS:
                break
            time.sleep(0.5)
        logs = podman("logs", name)
        assert count == EVENTS, f"{count} of {EVENTS} documents\n{logs.stderr[-3000:]}"
        started = [line for line in (logs.stdout + logs.stderr).splitlines() if '"started"' in line]
        assert started and json.loads(started[0])["core"] == "native", started
        hits = _get(search.port, f"/*/_search?size={EVENTS * 2}")
        assert isinstance(hits, dict)
        indexed = [hit["_source"].get("message") for hit in hits["hits"]["hits"]]
        assert Counter(indexed) == Counter(messages), "the indexed documents are not the events"
        # SIGTERM: the indexer drains, commits and exits 0 well within the pod's grace period.
        podman("stop", "--time", "30", name, timeout=60)
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "0", podman("logs", name).stderr[-3000:]
    finally:
        proxy.stop()
        search.stop()
        kafka.stop()


def test_agent_render_dry_run_in_the_image_reads_a_log_tree(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)  # the image's user (10001) reads the tree, as filebeat would
    log = tmp_path / "shop" / "cart" / "cart-5f9c-abcde" / "log"
    log.mkdir(parents=True)
    (log / "current").write_text("a line\n")
    out = run(
        "--volume", f"{tmp_path}:/data/logs:ro", INDEXER_IMAGE, "agent", "render", "--once",
        "--dry-run",
    ).stdout  # fmt: skip
    assert "indexer-agent.shop.cart" in out
    assert '"/data/logs/shop/cart/*/log/current"' in out


# ---- the app base image (Debian-s6 variant) with the sample app --------------------------------


def _processes(name: str) -> list[tuple[int, int, str]]:
    """(pid, uid, command line) of every process in the container."""
    script = (
        'for p in /proc/[0-9]*; do [ -r "$p/cmdline" ] || continue;'
        ' printf "%s %s %s\\n" "${p#/proc/}" "$(awk \'/^Uid:/ {print $2}\' "$p/status")"'
        ' "$(tr "\\0" " " < "$p/cmdline")"; done'
    )
    out = podman("exec", name, "sh", "-c", script).stdout
    rows = []
    for line in out.splitlines():
        pid, uid, command = [*line.split(" ", 2), ""][:3]
        if pid.isdigit() and uid.isdigit():
            rows.append((int(pid), int(uid), command.strip()))
    return rows


def _wait_for(predicate_path: Path, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if predicate_path.exists():
            text = predicate_path.read_text(errors="replace")
            if re.search(pattern, text):
                return text
        time.sleep(0.3)
    raise AssertionError(f"{pattern!r} not in {predicate_path} after {timeout} s:\n{text[-2000:]}")


BURST = """#!/bin/sh
# 300 lines of about 50 bytes (about 24 KB with s6-log's timestamps: several 4 KB rotations), a
# line every few milliseconds, then one a second. Paced on purpose: s6-log (Debian's 2.11) checks
# the size between writes, so a burst it reads in one go lands whole in one file, over the limit.
i=0
while [ $i -lt 300 ]; do
  i=$((i + 1))
  printf '{"level":"info","message":"burst %04d","n":%d}\\n' $i $i
  sleep 0.005
done
echo "warning: burst done" >&2
while :; do sleep 1; echo "idle"; done
"""


def test_the_sample_app_under_s6_svscan_logs_through_s6_log_into_the_node_path(
    tmp_path: Path, container_names: list[str]
) -> None:
    from indexer.agent.render import covers, parse_input
    from indexer.settings import Settings

    root = tmp_path / "logs"
    pod, burst_pod = "ticker-7d4b9c8f6-smoke", "ticker-7d4b9c8f6-burst"
    logdir = root / "demo" / "ticker" / pod / "log"
    burst_logdir = root / "demo" / "ticker" / burst_pod / "log"
    for directory in (logdir, burst_logdir):
        directory.mkdir(parents=True)  # as the kubelet does for a hostPath subPathExpr: root's
    burst = tmp_path / "burst-run"
    burst.write_text(BURST)
    burst.chmod(0o755)

    ticker, burster = unique("ticker-smoke"), unique("ticker-burst")
    container_names += [ticker, burster]
    podman("run", "--detach", "--name", ticker, "--network", "none",
           "--volume", f"{logdir}:/var/log/app", APP_IMAGE)  # fmt: skip
    podman("run", "--detach", "--name", burster, "--network", "none",
           "-e", "APP_LOG_SIZE=4096", "-e", "APP_LOG_KEEP=3",
           "--volume", f"{burst_logdir}:/var/log/app", "--volume", f"{burst}:/app/run:ro",
           APP_IMAGE)  # fmt: skip

    # the supervision tree: s6-svscan is PID 1, the app runs as app, s6-log as applog
    _wait_for(logdir / "current", r"tick 2\b", 30)
    processes = _processes(ticker)
    assert [(uid, cmd.split()[0]) for pid, uid, cmd in processes if pid == 1] == [(0, "s6-svscan")]
    assert any(uid == 0 and cmd.startswith("s6-supervise app/log") for _, uid, cmd in processes)
    assert any(uid == APP_UID and cmd.endswith("/app/run") for _, uid, cmd in processes)
    (logger,) = [cmd for _, uid, cmd in processes if cmd.startswith("s6-log")]
    assert [uid for _, uid, cmd in processes if cmd == logger] == [LOG_UID]

    # stdout and stderr both reach `current`, every line timestamped
    text = _wait_for(logdir / "current", r"warning: tick 10 is a multiple of ten", 30)
    lines = text.splitlines()
    stamp = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\.\d+ +"
    assert all(re.match(stamp, line) for line in lines), lines[:3]
    assert re.search(stamp + r'\{"level":"info","message":"tick 1","tick":1\}', text)

    # ownership: the prepared directory and s6-log's files belong to applog, readable by filebeat
    for directory in (logdir, burst_logdir):
        st = directory.stat()
        assert (st.st_uid, st.st_gid) == (LOG_UID, LOG_UID)
        assert st.st_mode & 0o7777 == 0o2755
    for file in ("current", "lock", "state"):
        st = (logdir / file).stat()
        assert (st.st_uid, st.st_gid) == (LOG_UID, LOG_UID), file
        assert st.st_mode & 0o044 == 0o044, file

    # rotation: 4096-byte files, three archives kept, nothing lost from the last ones
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        archives = sorted(burst_logdir.glob("@*.s"))
        if len(archives) == 3 and "burst done" in (burst_logdir / "current").read_text():
            break
        time.sleep(0.3)
    names = sorted(p.name for p in burst_logdir.iterdir())
    assert len(archives) == 3, names
    assert all(re.fullmatch(r"@[0-9a-f]{24}\.s", p.name) for p in archives), names
    for path in [*archives, burst_logdir / "current"]:
        assert path.stat().st_size <= 4096, path.name
        assert path.stat().st_uid == LOG_UID, path.name
    kept = "".join(p.read_text() for p in [*archives, burst_logdir / "current"])
    numbers = [int(n) for n in re.findall(r'"message":"burst (\d{4})"', kept)]
    assert numbers == list(range(numbers[0], 301)), "the kept lines must be the newest, in order"
    assert numbers[0] > 1, "older lines must have been rotated away (keep 3)"

    # SIGTERM to PID 1 stops the tree cleanly
    podman("stop", "--time", "20", ticker, timeout=40)
    code = podman("inspect", "--format", "{{.State.ExitCode}}", ticker).stdout.strip()
    assert code == "0"

    # the node agent, pointed at that directory, renders an input covering what s6-log writes
    # lines to (current, previous and the @….s/@….u archives), never its lock/state files
    out = run(
        "--user", "0:0", "--volume", f"{root}:/data/logs:ro", INDEXER_IMAGE,
        "agent", "render", "--once", "--dry-run",
    ).stdout  # fmt: skip
    chunks = re.split(r"^# (/\S+)\n", out, flags=re.MULTILINE)
    inputs = dict(zip(chunks[1::2], chunks[2::2], strict=True))
    (text,) = [text for path, text in inputs.items() if path.endswith(".demo.ticker.yml")]
    rendered = parse_input(Settings().agent, text, "demo", "ticker")
    for directory in (logdir, burst_logdir):
        for path in directory.iterdir():
            node_path = "/data/logs/" + str(path.relative_to(root))
            is_log = path.name in ("current", "previous") or re.fullmatch(
                r"@[0-9a-f]{24}\.[su]", path.name
            )
            assert covers(rendered, node_path) == bool(is_log), node_path
