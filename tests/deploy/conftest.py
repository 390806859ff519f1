"""Rendered overlays, shared by the deploy tests (rendering is the slow part: do it once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from deploy_checks import overlay_dirs, render


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Overlay name -> its rendered objects. Fails (never skips) when kubectl is missing."""
    return {path.name: render(path) for path in overlay_dirs()}


@pytest.fixture(scope="session")
def repo() -> Path:
    return Path(__file__).resolve().parents[2]
