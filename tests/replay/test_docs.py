"""docs/replay.md keeps up with the commands: every flag of both is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

from indexer.replay.cli import register

DOC = Path(__file__).resolve().parents[2] / "docs" / "replay.md"


def _flags() -> dict[str, set[str]]:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    register(commands)
    found: dict[str, set[str]] = {}
    for name, sub in commands.choices.items():
        parsers = [sub]
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers = list(action.choices.values())
        for p in parsers:
            for action in p._actions:
                found.setdefault(p.prog, set()).update(
                    s for s in action.option_strings if s.startswith("--") and s != "--help"
                )
        assert name in ("deadletter", "replay")
    return found


def test_every_flag_of_both_replay_commands_is_in_the_replay_doc() -> None:
    text = DOC.read_text()
    flags = _flags()
    assert len(flags) == 2
    for prog, options in flags.items():
        for option in options:
            assert f"`{option}" in text, f"{prog} {option} is not in docs/replay.md"
