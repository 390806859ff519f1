"""What `indexer kibana setup` and `indexer dashboards setup` share around their own work: the
settings with the command's flags laid over one section, the namespaces found in the cluster's
index names, and the printed report. Imported lazily by the commands (it imports nothing heavy
at module level)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from indexer.saved_objects.report import Report


def settings_with_flags(args: argparse.Namespace, section: str, flags: tuple[str, ...]) -> Any:
    """The settings, the `flags` given (those not None) overriding the `section` section,
    merged with the environment (so `--username` goes with INDEXER_<SECTION>__PASSWORD).
    Bad settings: the message on standard error and SystemExit(2)."""
    from indexer.cli_settings import settings_from
    from indexer.log import configure_logging
    from indexer.settings import SettingsError, load_settings

    overrides = {flag: getattr(args, flag) for flag in flags if getattr(args, flag) is not None}
    if not overrides:
        return settings_from(args)
    try:
        settings = load_settings(args.config, **{section: overrides})
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log)
    return settings


def namespaces_with_indices(settings: Any, command: str) -> list[str]:
    """Every namespace with an index, from the cluster's index names (one request). The
    cluster unreachable or refusing: `<command>: cannot list …` on standard error and
    SystemExit(1)."""
    from indexer.admin.naming import parse_index
    from indexer.cluster import ClusterError, ClusterUnavailable, connect

    prefix = settings.routing.index_prefix
    try:
        client = connect(settings.elasticsearch)
        rows = client.request(
            "GET", f"/_cat/indices/{prefix}-*_*", params={"format": "json", "h": "index"}
        )
    except (ClusterError, ClusterUnavailable) as exc:
        print(f"{command}: cannot list the namespaces' indices: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    found = (parse_index(prefix, str(row["index"])) for row in rows)
    return [parsed.namespace for parsed in found if parsed is not None and parsed.namespace]


def print_report(report: Report, *, dry_run: bool) -> None:
    """One line per object on standard output; on a dry run, then every planned write."""
    for line in report.lines():
        print(line)
    if dry_run:
        for request in report.requests:
            print(request)
