"""`indexer templates validate|diff` and `indexer setup`, registered into the main parser.
`templates validate` also checks the Kibana object files (`kibana/`).

Exit statuses: 0 success (and, for `diff`, no difference unless `--exit-code`), 1 problems found,
a conflict left in place, or a refusal by the cluster; 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the agent shares this parser and must never load the client
    from indexer.cluster import SearchClient


def register(commands: Any) -> None:
    templates = commands.add_parser(
        "templates", help="Check the template and lifecycle files, or compare them with a cluster."
    )
    actions = templates.add_subparsers(dest="templates_command", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="Offline checks of every file (exit 1 on any).")
    validate.add_argument("--templates-dir", type=Path, default=None)
    validate.add_argument("--policies-dir", type=Path, default=None)
    validate.set_defaults(handler=_validate)
    diff = actions.add_parser("diff", help="What differs between the files and the cluster.")
    diff.add_argument(
        "--exit-code", action="store_true", help="Exit 1 when anything differs (like diff(1))."
    )
    diff.set_defaults(handler=_diff)

    setup = commands.add_parser(
        "setup", help="Put templates and lifecycle policies, following the version rules."
    )
    setup.add_argument("--dry-run", action="store_true", help="Print the requests; send none.")
    setup.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace same-version cluster copies that differ (never higher versions).",
    )
    setup.set_defaults(handler=_setup)


def _validate(args: argparse.Namespace) -> int:
    from indexer.admin.definitions import missing_policies
    from indexer.admin.sources import read_sources
    from indexer.admin.validate import routing_conflicts, validate_sources
    from indexer.cli_settings import settings_from
    from indexer.kibana.objects import KibanaObjectsError
    from indexer.kibana.objects import read_sources as read_kibana_sources

    settings = settings_from(args)
    lifecycle = settings.lifecycle
    templates_dir = args.templates_dir or lifecycle.templates_dir
    policies_dir = args.policies_dir or lifecycle.policies_dir
    sources, errors = read_sources(templates_dir, policies_dir)
    problems = errors + [str(p) for p in validate_sources(sources)]
    problems += [str(p) for p in routing_conflicts(sources, settings.routing.max_past)]
    policies = {s.name for s in sources if s.kind == "ilm_policy"}
    if args.policies_dir is None:
        problems += missing_policies(lifecycle, policies, policies_dir)
    kibana_files = 0
    try:
        kibana_files = len(read_kibana_sources(settings.kibana.objects_dir))
    except KibanaObjectsError as exc:
        problems.append(str(exc))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(sources) + kibana_files} files checked, {len(problems)} problem(s)")
    return 1 if problems else 0


def _diff(args: argparse.Namespace) -> int:
    from indexer.admin.setup import diff

    connected = _guarded(lambda: _connect(args))
    if connected is None:
        return 1
    settings, client = connected
    report = _guarded(lambda: diff(client, settings))
    if report is None:
        return 1
    changed = 0
    for outcome in report.outcomes:
        if outcome.action == "unchanged":
            continue
        changed += 1
        print(
            f"{outcome.kind} {outcome.name}: {outcome.action} "
            f"(file v{outcome.file_version}, cluster v{outcome.cluster_version})"
        )
        for line in outcome.differences:
            print(f"    {line}")
    print(f"{changed} of {len(report.outcomes)} objects differ")
    return 1 if changed and args.exit_code else 0


def _setup(args: argparse.Namespace) -> int:
    from indexer.admin.setup import run_setup

    connected = _guarded(lambda: _connect(args))
    if connected is None:
        return 1
    settings, client = connected
    report = _guarded(
        lambda: run_setup(client, settings, dry_run=args.dry_run, overwrite=args.overwrite)
    )
    if report is None:
        return 1
    for line in report.lines():
        print(line)
    if args.dry_run:
        for planned in report.requests:
            print(planned)
    return 1 if report.conflicts else 0


def _connect(args: argparse.Namespace) -> tuple[Any, SearchClient]:
    from indexer.cli_settings import settings_from
    from indexer.cluster import connect

    settings = settings_from(args)
    return settings, connect(settings.elasticsearch)


def _guarded(action: Any) -> Any:
    from indexer.admin.errors import SetupError
    from indexer.cluster import ClusterError, ClusterUnavailable

    try:
        return action()
    except SetupError as exc:
        print(f"setup: {exc}", file=sys.stderr)
    except (ClusterError, ClusterUnavailable) as exc:
        print(f"setup: the cluster did not answer as expected: {exc}", file=sys.stderr)
    return None
