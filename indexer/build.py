"""What is running: the package version and which core processes events.

`indexer --version`, the start-up line and the `indexer_build_info{version,core}` metric all
read these, so an operator names the same version everywhere. The version is the package's
(`pyproject.toml`, `indexer.__version__`; the tests keep them, the Dockerfile's image label and
the production overlay's tag equal).
"""

from __future__ import annotations

from indexer import __version__

VERSION = __version__


def core() -> str:
    """Which implementation of the hot path runs: "python" (the only one so far; a compiled
    core reports its own name here)."""
    return "python"


def describe() -> str:
    """One line: `indexer 0.1.0 (core: python)`."""
    return f"indexer {VERSION} (core: {core()})"
