"""`indexer kibana setup`: the data views (and, with --space-per-namespace, spaces and roles)
of the files in `kibana/`, for the namespaces given or found in the cluster's index names.

Exit statuses: 0 done (objects not ours are left alone and said so), 1 Kibana or the cluster
unreachable or refusing (one line on standard error), 2 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any) -> None:
    kibana = commands.add_parser("kibana", help="Kibana objects (data views, spaces, roles).")
    actions = kibana.add_subparsers(dest="kibana_command", metavar="ACTION", required=True)
    setup = actions.add_parser(
        "setup", help="Create or upgrade the data views of kibana/ (idempotent, versioned)."
    )
    setup.add_argument("--url", help="Kibana's base URL (else kibana.url / INDEXER_KIBANA__URL).")
    setup.add_argument(
        "--space-per-namespace",
        action="store_true",
        default=None,
        help="A space and a read-only role per namespace (else kibana.space_per_namespace).",
    )
    setup.add_argument("--dry-run", action="store_true", help="Print the requests; send none.")
    setup.add_argument(
        "--namespace",
        action="append",
        default=None,
        type=_namespace,
        help="A namespace to set up (repeatable); default: every namespace with an index. A "
        "Kubernetes namespace name, as routing takes it: no pattern (`shop*` would make a role "
        "reading every shop… namespace).",
    )
    setup.add_argument("--api-key", help="Kibana API key (prefer INDEXER_KIBANA__API_KEY).")
    setup.add_argument("--username", help="Basic-auth user (password: INDEXER_KIBANA__PASSWORD).")
    setup.set_defaults(handler=_setup)


def _namespace(text: str) -> str:
    """A namespace exactly as routing accepts one (a DNS label, indexer/identity.py): a
    wildcard or any other pattern character would widen the role and the data view."""
    from indexer.identity import DNS_LABEL

    if not DNS_LABEL.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Kubernetes namespace name (lower-case letters, digits and '-', "
            "at most 63, alphanumeric at both ends; no wildcards)"
        )
    return text


def _setup(args: argparse.Namespace) -> int:
    from indexer.kibana.client import KibanaClient, KibanaError, KibanaUnavailable
    from indexer.kibana.objects import KibanaObjectsError, desired, read_sources
    from indexer.kibana.setup import apply
    from indexer.saved_objects.cli import namespaces_with_indices, print_report

    settings = _settings(args)
    kibana = settings.kibana
    if kibana.url is None and not args.dry_run:
        print("kibana setup: no Kibana URL (--url or INDEXER_KIBANA__URL)", file=sys.stderr)
        return 2
    try:
        sources = read_sources(kibana.objects_dir)
        namespaces = args.namespace or namespaces_with_indices(settings, "kibana setup")
        wanted = desired(
            sources,
            settings.routing.index_prefix,
            sorted(set(namespaces)),
            space_per_namespace=kibana.space_per_namespace,
        )
        client = None if args.dry_run else KibanaClient(kibana)
        report = apply(client, wanted, dry_run=args.dry_run)
    except (KibanaError, KibanaUnavailable) as exc:
        print(f"kibana setup: Kibana at {kibana.url} failed: {exc}", file=sys.stderr)
        return 1
    except KibanaObjectsError as exc:
        print(f"kibana setup: {exc}", file=sys.stderr)
        return 1
    print_report(report, dry_run=args.dry_run)
    return 0


def _settings(args: argparse.Namespace) -> Any:
    """The settings, the flags given overriding the `kibana` section (merged with the
    environment, so `--username` goes with INDEXER_KIBANA__PASSWORD); exit 2 when bad."""
    from indexer.saved_objects.cli import settings_with_flags

    return settings_with_flags(args, "kibana", _SECTION_FLAGS)


_SECTION_FLAGS = ("url", "api_key", "username", "space_per_namespace")
