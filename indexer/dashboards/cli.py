"""`indexer dashboards setup`: the index patterns (and, with --tenant-per-namespace, tenants and
roles) of the files in `dashboards/`, for the namespaces given or found in the cluster's index
names. OpenSearch Dashboards' counterpart of `indexer kibana setup`.

Exit statuses: 0 done (objects not ours are left alone and said so), 1 Dashboards or the cluster
unreachable or refusing (one line on standard error), 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any) -> None:
    dashboards = commands.add_parser(
        "dashboards", help="OpenSearch Dashboards objects (index patterns, tenants, roles)."
    )
    actions = dashboards.add_subparsers(dest="dashboards_command", metavar="ACTION", required=True)
    setup = actions.add_parser(
        "setup", help="Create or upgrade the index patterns of dashboards/ (idempotent, versioned)."
    )
    setup.add_argument("--url", help="Dashboards' base URL (else INDEXER_DASHBOARDS__URL).")
    setup.add_argument(
        "--tenant-per-namespace",
        action="store_true",
        default=None,
        help="A tenant and a read-only role per namespace (security plugin; else "
        "dashboards.tenant_per_namespace).",
    )
    setup.add_argument("--dry-run", action="store_true", help="Print the requests; send none.")
    setup.add_argument(
        "--namespace",
        action="append",
        default=None,
        help="A namespace to set up (repeatable); default: every namespace with an index.",
    )
    setup.add_argument(
        "--username", help="Basic-auth user (password: INDEXER_DASHBOARDS__PASSWORD)."
    )
    setup.set_defaults(handler=_setup)


def _setup(args: argparse.Namespace) -> int:
    from indexer.cluster import ClusterError, ClusterUnavailable, client_for
    from indexer.dashboards.client import DashboardsClient, DashboardsError, DashboardsUnavailable
    from indexer.dashboards.objects import DashboardsObjectsError, desired, read_sources
    from indexer.dashboards.setup import apply
    from indexer.saved_objects.cli import namespaces_with_indices, print_report

    settings = _settings(args)
    dashboards = settings.dashboards
    if dashboards.url is None and not args.dry_run:
        print(
            "dashboards setup: no Dashboards URL (--url or INDEXER_DASHBOARDS__URL)",
            file=sys.stderr,
        )
        return 2
    cluster = None
    try:
        sources = read_sources(dashboards.objects_dir)
        namespaces = args.namespace or namespaces_with_indices(settings, "dashboards setup")
        wanted = desired(
            sources,
            settings.routing.index_prefix,
            sorted(set(namespaces)),
            tenant_per_namespace=dashboards.tenant_per_namespace,
        )
        client = None
        if not args.dry_run:
            client = DashboardsClient(dashboards)
            if wanted.tenants or wanted.roles:
                cluster = client_for(settings.elasticsearch)
        report = apply(client, cluster, wanted, dry_run=args.dry_run)
    except (DashboardsError, DashboardsUnavailable) as exc:
        print(f"dashboards setup: Dashboards at {dashboards.url} failed: {exc}", file=sys.stderr)
        return 1
    except (ClusterError, ClusterUnavailable) as exc:
        print(f"dashboards setup: the cluster's security plugin failed: {exc}", file=sys.stderr)
        return 1
    except DashboardsObjectsError as exc:
        print(f"dashboards setup: {exc}", file=sys.stderr)
        return 1
    finally:
        if cluster is not None:
            cluster.close()
    print_report(report, dry_run=args.dry_run)
    return 0


def _settings(args: argparse.Namespace) -> Any:
    """The settings, the flags given overriding the `dashboards` section; exit 2 when bad."""
    from indexer.saved_objects.cli import settings_with_flags

    return settings_with_flags(args, "dashboards", _SECTION_FLAGS)


_SECTION_FLAGS = ("url", "username", "tenant_per_namespace")
