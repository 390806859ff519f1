"""One version, named the same everywhere: the package, `indexer --version`, the build-info
metric, the image label, the CHANGELOG the upgrade docs point to."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from prometheus_client import generate_latest

from indexer import __version__, build, metrics

REPO = Path(__file__).resolve().parents[2]


def test_the_package_version_is_the_projects() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert __version__ == project["version"] == build.VERSION


def test_indexer_version_prints_the_version_and_the_core() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "indexer", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    built = "native core installed" if build.native_core_installed() else "reference core only"
    assert result.stdout.strip() == f"indexer {__version__} ({built})"


def test_the_build_info_metric_names_the_version_and_the_core_start_up_chose() -> None:
    assert metrics.BUILD_INFO is not None
    text = generate_latest().decode()
    assert f'indexer_build_info{{core="python",version="{__version__}"}} 1.0' in text
    try:
        metrics.set_build_core("native")
        text = generate_latest().decode()
        assert f'indexer_build_info{{core="native",version="{__version__}"}} 1.0' in text
        assert 'indexer_build_info{core="python"' not in text  # one series, never two
    finally:
        metrics.set_build_core("python")


def test_the_image_is_labelled_with_the_version() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f'org.opencontainers.image.version="{__version__}"' in dockerfile


def test_the_changelog_starts_with_this_release_and_the_upgrade_docs_point_to_it() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\S+)", changelog, re.MULTILINE)
    assert releases[0] == __version__
    first = changelog.split(f"## {__version__}", 1)[1].split("\n## ", 1)[0]
    assert "### You must" in first and "k8s-logs" in first
    upgrades = (REPO / "docs" / "operations.md").read_text().split("## Upgrades", 1)[1]
    assert "CHANGELOG.md" in upgrades.split("\n## ", 1)[0]
