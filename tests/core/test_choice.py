"""Which core runs (indexer/core.py): the setting, the fallback, and what start-up says.

A machine without the native core is made by blocking its import in a child interpreter
(`sys.modules["indexer_core"] = None` makes `import indexer_core` raise ImportError, as a
missing package does), so these run with and without a Rust toolchain.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from indexer.settings import SettingsError, load_settings

BLOCK = "import sys; sys.modules['indexer_core'] = sys.modules['indexer_core._core'] = None; "


def _indexer(
    *args: str, core: str, block: bool, parsing: bool = True
) -> subprocess.CompletedProcess[str]:
    code = (BLOCK if block else "") + "from indexer.cli import main; sys.exit(main(sys.argv[1:]))"
    if not block:
        code = "import sys; " + code
    env = {**os.environ, "INDEXER_CORE": core, "INDEXER_PARSING__ENABLED": str(parsing).lower()}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_native_without_the_core_fails_start_up_naming_the_setting() -> None:
    run = _indexer("run", core="native", block=True)
    assert run.returncode == 1
    assert "setting core (INDEXER_CORE) is native" in run.stdout + run.stderr
    shown = _indexer("config", "show", core="native", block=True)
    assert shown.returncode == 0
    assert "# core in use: none, start-up would fail" in shown.stdout


def test_auto_without_the_core_falls_back_to_the_reference() -> None:
    shown = _indexer("config", "show", core="auto", block=True, parsing=False)
    assert shown.returncode == 0, shown.stderr
    assert "core: auto\n" in shown.stdout
    assert "# core in use: python (core: auto, native core not used: indexer_core does not" in (
        shown.stdout
    )


def test_python_is_the_reference_even_with_the_core_installed() -> None:
    shown = _indexer("config", "show", core="python", block=False)
    assert "# core in use: python (core: python)" in shown.stdout


def test_auto_and_native_use_the_core_when_it_passes_its_self_check() -> None:
    pytest.importorskip("indexer_core")
    for core in ("auto", "native"):
        shown = _indexer("config", "show", core=core, block=False, parsing=False)
        assert f"# core in use: native (core: {core})" in shown.stdout, shown.stdout


def test_auto_uses_the_core_with_parsing_on_for_every_app() -> None:
    """The core parses structured lines: with parsing on (the default) `auto` runs it."""
    pytest.importorskip("indexer_core")
    shown = _indexer("config", "show", core="auto", block=False)
    assert "# core in use: native (core: auto)" in shown.stdout, shown.stdout


def test_auto_keeps_the_reference_under_parsing_settings_the_core_does_not_follow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A zone other than UTC makes the core decline every parsed event: only its own cost."""
    pytest.importorskip("indexer_core")
    monkeypatch.setenv("INDEXER_PARSING__NAIVE_TIME_ZONE", "Europe/Paris")
    shown = _indexer("config", "show", core="auto", block=False)
    forced = _indexer("config", "show", core="native", block=False)
    assert "# core in use: python (core: auto, native core not used: it does not parse" in (
        shown.stdout
    ), shown.stdout
    assert "# core in use: native (core: native)" in forced.stdout, forced.stdout


def test_an_unknown_core_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"setting core \(INDEXER_CORE\)"):
        load_settings(core="rust")


def test_the_self_check_counts_no_decline_and_the_metric_names_the_chosen_core() -> None:
    """The self-check's own reads are no events: `indexer_core_declined_total` stays empty
    after start-up chose the core, and `indexer_build_info` names the core it chose."""
    pytest.importorskip("indexer_core")
    code = (
        "from prometheus_client import generate_latest\n"
        "from indexer.core import choose_core\n"
        "from indexer.settings import load_settings\n"
        "print(choose_core(load_settings(None)).name)\n"
        "print(generate_latest().decode())\n"
    )
    env = {**os.environ, "INDEXER_CORE": "native"}
    run = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    chosen, metrics = run.stdout.split("\n", 1)
    assert chosen == "native"
    declined = [
        line for line in metrics.splitlines() if line.startswith("indexer_core_declined_total{")
    ]
    assert declined == [], declined
    assert 'indexer_build_info{core="native"' in metrics
