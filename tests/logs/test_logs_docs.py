"""`indexer logs --help` and docs/reading-logs.md keep up with the flags: each one has an
example in the help, and the doc names it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from indexer.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "reading-logs.md"


def _logs_parser() -> argparse.ArgumentParser:
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = commands.choices["logs"]
    return parser


def test_every_flag_has_an_example_in_the_help_and_a_place_in_the_doc() -> None:
    parser = _logs_parser()
    text = DOC.read_text()
    help_text = subprocess.run(
        [sys.executable, "-m", "indexer", "logs", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    examples = help_text.split("examples:", 1)[1]
    for action in parser._actions:
        if not action.option_strings or "-h" in action.option_strings:
            continue
        named = [o for o in action.option_strings if f" {o}" in examples]
        assert named or "e.g." in (action.help or ""), f"{action.option_strings}: no example"
        assert any(f"`{o}" in text or f" {o}" in text for o in action.option_strings), (
            f"{action.option_strings} is not in docs/reading-logs.md"
        )
