"""What filebeat's registry says is read decides what the agent compresses, deletes and prunes."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import registry_files
from conftest import Clock, PodMaker
from s6_supervision import s6_app

from indexer.agent import registry
from indexer.agent.maintenance import Maintenance
from indexer.agent.prune import prune
from indexer.agent.rotate import generations, rotate_file
from indexer.agent.settings import AgentSettings
from indexer.agent.shipped import Shipped

INPUT = "indexer-agent.prod.web"


def _with_registry(settings: AgentSettings, tmp_path: Path) -> AgentSettings:
    update = {"registry_dir": tmp_path / "registry" / "filebeat"}
    return settings.model_copy(update={"filebeat": settings.filebeat.model_copy(update=update)})


def test_offsets_come_from_the_newest_checkpoint_then_the_log_and_removals_count(
    make_pod: PodMaker, tmp_path: Path
) -> None:
    log_dir = make_pod("prod", "web", "web-0", "a.log", "b.log", "c.log")
    a, b, c = (log_dir / n for n in ("a.log", "b.log", "c.log"))
    home = tmp_path / "registry"
    registry_files.write(
        home,
        {registry_files.key(INPUT, a): registry_files.value(a, 3)},
        [
            ("set", registry_files.key(INPUT, a), registry_files.value(a, a.stat().st_size)),
            ("set", registry_files.key(INPUT, b), registry_files.value(b, 1)),
            ("set", registry_files.key(INPUT, c), registry_files.value(c, 99)),
            ("remove", registry_files.key(INPUT, c), None),
        ],
    )
    with open(home / "log.json", "a") as torn:
        torn.write('{"op":"set","id":15}\n{"k":"filestream::')
    snapshot = registry.load(home)
    assert snapshot.finished(INPUT, a)
    assert not snapshot.finished(INPUT, b) and snapshot.acked(INPUT, b) == 1
    assert snapshot.acked(INPUT, c) is None and not snapshot.finished(INPUT, c)
    assert not snapshot.finished("indexer-agent.prod.other", a)
    assert registry.load(tmp_path / "missing").offsets == {}


def test_a_generation_is_compressed_and_deleted_only_once_filebeat_has_read_it(
    settings: AgentSettings, make_pod: PodMaker, tmp_path: Path
) -> None:
    settings = _with_registry(settings, tmp_path)
    rules = settings.rotate.model_copy(update={"max_size_bytes": None, "max_age_seconds": None})
    settings = settings.model_copy(update={"rotate": rules.model_copy(update={"keep": 1})})
    path = make_pod("prod", "web", "web-0", "app.log") / "app.log"
    clock = Clock(1710063000.0)
    first = rotate_file(path, "rename", clock())
    assert first is not None
    path.write_text("second\n")
    clock.advance(10)
    registry_files.write(settings.filebeat.registry_dir, {}, [])
    maintenance = Maintenance(settings, clock)
    maintenance.run(None)
    maintenance.wait()
    assert [g.compressed for g in generations(path)] == [False, False], "nothing read: kept"
    registry_files.write(
        settings.filebeat.registry_dir,
        {registry_files.key(INPUT, first): registry_files.value(first, first.stat().st_size)},
        [],
    )
    clock.advance(10)
    maintenance.run(None)
    maintenance.close()
    assert not first.exists() and first.with_name(first.name + ".gz").exists()


def test_a_pod_directory_stays_while_s6_log_holds_its_lock_or_filebeat_has_not_read_it(
    settings: AgentSettings, tmp_path: Path
) -> None:
    settings = _with_registry(settings, tmp_path)
    logdir = settings.logs_root / "prod" / "web" / "web-0" / "log"
    logdir.parent.mkdir(parents=True)
    later = os.stat(settings.logs_root).st_mtime + 30 * 86400
    with s6_app(tmp_path / "s6", logdir, {"APP_LOG_SIZE": "4096"}) as app:
        app.write([b"a quiet pod"])
        app.wait_bytes()
        assert prune(settings.logs_root, 86400, later, lambda _: True) == []  # lock held
    current = logdir / "current"
    registry_files.write(settings.filebeat.registry_dir, {}, [])
    assert prune(settings.logs_root, 86400, later, Shipped(settings)) == []  # unread
    registry_files.write(
        settings.filebeat.registry_dir,
        {registry_files.key(INPUT, current): registry_files.value(current, current.stat().st_size)},
        [],
    )
    assert prune(settings.logs_root, 86400, later, Shipped(settings)) == [logdir.parent]


def test_copytruncate_loses_only_what_a_writer_appends_between_the_last_copy_and_the_truncate(
    make_pod: PodMaker, clock: Clock
) -> None:
    path = make_pod("prod", "web", "web-0") / "app.log"
    path.touch()
    stop = threading.Event()
    count = [0]

    def write() -> None:
        with open(path, "a", buffering=1) as out:  # O_APPEND, never reopened
            while not stop.is_set():
                out.write(f"{count[0]}\n")
                count[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    rotations = 200
    started = time.monotonic()
    try:
        for _ in range(rotations):
            while path.stat().st_size < 4096:
                pass
            assert rotate_file(path, "copytruncate", clock()) is not None
            clock.advance(1)
    finally:
        stop.set()
        writer.join(timeout=10)
    elapsed = time.monotonic() - started
    seen: list[int] = []
    torn = 0
    for file in [g.path for g in sorted(generations(path), key=lambda g: g.rotated_at)] + [path]:
        *complete, rest = file.read_bytes().split(b"\n")
        torn += rest != b"" and file != path  # a copy cut mid-line: the tail was truncated away
        seen += [int(x) for x in complete]
    bad = [i for i in range(1, len(seen)) if seen[i] <= seen[i - 1]]
    assert not bad, "no line twice, none out of order"
    lost = count[0] - len(seen)
    gaps = sum(1 for a, b in itertools.pairwise(seen) if b != a + 1)
    assert gaps <= rotations, "losses only at the rotations"
    rate = count[0] / elapsed
    print(
        f"\ncopytruncate: {lost} of {count[0]} lines lost over {rotations} rotations"
        f" ({torn} copies end in a torn line); writer {rate:.0f} lines/s,"
        f" so a window of about {lost / rotations / rate * 1e6:.1f} us per rotation"
    )
