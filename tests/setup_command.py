"""`indexer kibana setup` / `indexer dashboards setup` run in-process, as the setup tests of
both products call them: the exit status (a SystemExit's code included), standard output and
standard error."""

from __future__ import annotations

import pytest

from indexer.cli import main


def run_setup(
    capsys: pytest.CaptureFixture[str],
    product: str,
    args: tuple[str, ...],
    namespaces: tuple[str, ...],
) -> tuple[int, str, str]:
    """Run `indexer <product> setup --namespace N… ARGS…`; never raises SystemExit."""
    flags = [f for ns in namespaces for f in ("--namespace", ns)]
    try:
        code = main([product, "setup", *flags, *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
