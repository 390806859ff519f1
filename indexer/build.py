"""What is running: the package version and which core processes events.

`indexer --version`, the start-up line and the `indexer_build_info{version,core}` metric all
read these, so an operator names the same version everywhere. The version is the package's
(`pyproject.toml`, `indexer.__version__`; the tests keep them, the Dockerfile's image label and
the production overlay's tag equal).

Which core runs is decided at start-up from the `core` setting (`indexer/core.py`
`choose_core`), which sets the metric's `core` label; before that, and in `--version`, the
build can only say whether a native core is installed.
"""

from __future__ import annotations

import importlib.util

from indexer import __version__

VERSION = __version__


def native_core_installed() -> bool:
    """Whether `indexer_core` (the Rust core, docs/native-core.md) is installed; never imports it."""
    try:
        return importlib.util.find_spec("indexer_core") is not None
    except (ImportError, ValueError):
        return False


def describe() -> str:
    """One line: `indexer 0.1.0 (native core installed)` or `indexer 0.1.0 (reference core
    only)`; the core a process uses is in its `started` line and `indexer_build_info`."""
    built = "native core installed" if native_core_installed() else "reference core only"
    return f"indexer {VERSION} ({built})"
