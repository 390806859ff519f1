"""Atomic input files: mode 0644, owner as configured, replaced only when changed or checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.agent.write import write_atomic


def test_a_new_file_gets_exactly_the_mode_and_owner_asked_for_and_no_temp_file_remains(
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.yml"
    old_umask = os.umask(0o077)
    try:
        assert write_atomic(path, "- x: 1\n", mode=0o644, uid=1234, gid=5678)
    finally:
        os.umask(old_umask)
    info = path.stat()
    assert (info.st_mode & 0o7777, info.st_uid, info.st_gid) == (0o644, 1234, 5678)
    assert os.listdir(tmp_path) == ["a.yml"]


def test_unchanged_content_is_not_rewritten_but_a_wrong_mode_is_repaired(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    write_atomic(path, "- x: 1\n")
    inode = path.stat().st_ino
    assert not write_atomic(path, "- x: 1\n")
    assert path.stat().st_ino == inode
    path.chmod(0o666)
    assert write_atomic(path, "- x: 1\n")
    assert path.stat().st_mode & 0o7777 == 0o644


def test_a_text_the_check_refuses_leaves_the_old_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    write_atomic(path, "old\n")

    def refuse(text: str) -> None:
        raise ValueError(f"bad: {text!r}")

    with pytest.raises(ValueError):
        write_atomic(path, "new\n", check=refuse)
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["a.yml"]


def test_the_check_sees_the_bytes_as_written_to_disk(tmp_path: Path) -> None:
    seen: list[str] = []
    write_atomic(tmp_path / "a.yml", "é: 1\n", check=seen.append)
    assert seen == ["é: 1\n"]
