"""The `indexer` command. Each subcommand module registers itself here through `register()`.

Exit statuses: 0 success, 1 a command's own failure, 2 bad settings or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from indexer.cli_settings import settings_from

Handler = Callable[[argparse.Namespace], int]


def _run(args: argparse.Namespace) -> int:
    from indexer.main import run_indexer

    return run_indexer(settings_from(args))


def _config_show(args: argparse.Namespace) -> int:
    import yaml

    from indexer.core import CoreUnavailable, choose_core
    from indexer.settings import masked

    settings = settings_from(args)
    print(yaml.safe_dump(masked(settings), sort_keys=False), end="")
    try:  # the setting says what is asked for; this says what would run
        choice = choose_core(settings)
        print(f"# core in use: {choice.name} ({choice.why})")
    except CoreUnavailable as exc:
        print(f"# core in use: none, start-up would fail: {exc}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from indexer.demo import run_demo

    return run_demo(events_per_app_day=args.events, product=args.product)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indexer",
        description="Indexes Kubernetes log lines from Kafka (filebeat's topics) into "
        "Elasticsearch or OpenSearch, and runs the node agent that feeds filebeat. "
        "`indexer run` starts the indexer; `indexer demo` shows it end to end.",
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML settings file (environment wins)."
    )
    from indexer.build import describe

    parser.add_argument("--version", action="version", version=describe())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="Consume filebeat topics and index into Elasticsearch.")
    run.set_defaults(handler=_run)

    config = commands.add_parser("config", help="Inspect the resolved settings.")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    show = config_commands.add_parser("show", help="Print the resolved settings, secrets masked.")
    show.set_defaults(handler=_config_show)

    demo = commands.add_parser(
        "demo", help="Run the indexer end to end on embedded servers and show what it indexed."
    )
    demo.add_argument("--events", type=int, default=40, help="Events per app and day.")
    demo.add_argument(
        "--product",
        choices=("elasticsearch", "opensearch"),
        default="elasticsearch",
        help="Which default cluster the embedded search server behaves as.",
    )
    demo.set_defaults(handler=_demo)

    from indexer.agent.cli import register as register_agent

    register_agent(commands)
    from indexer.admin.commands import register as register_admin

    register_admin(commands)
    from indexer.kibana.cli import register as register_kibana

    register_kibana(commands)
    from indexer.replay.cli import register as register_replay

    register_replay(commands)
    from indexer.logs.cli import register as register_logs

    register_logs(commands)
    from indexer.dashboards.cli import register as register_dashboards

    register_dashboards(commands)
    # subcommands registered by other modules
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        # No command: say what the tool does rather than start a daemon against localhost.
        parser.print_help()
        print(
            "\nindexer: no command given; `indexer run` starts the indexer (the container image "
            "runs it by default)",
            file=sys.stderr,
        )
        return 2
    try:
        return handler(args)
    except Exception as exc:
        if not _is_outage(exc):
            raise
        from indexer.redact import redact_text

        command = " ".join(str(a) for a in (args.command, _subcommand(args)) if a)
        print(redact_text(f"indexer {command}: {type(exc).__name__}: {exc}"), file=sys.stderr)
        return 1


# Exceptions that mean a server is down, refuses, or answers what we did not expect: a user's
# outage, not a bug, so one line and exit 1 instead of a traceback. Looked up in sys.modules so
# that a command which never imported Kafka or Elasticsearch (the node agent) stays free of them.
_OUTAGES = (
    ("indexer.cluster", "ClusterError"),
    ("indexer.cluster", "ClusterUnavailable"),
    ("indexer.kibana.client", "KibanaUnavailable"),
    ("indexer.kibana.client", "KibanaError"),
    ("confluent_kafka", "KafkaException"),
)


def _is_outage(exc: BaseException) -> bool:
    for module_name, name in _OUTAGES:
        module = sys.modules.get(module_name)
        kind = getattr(module, name, None) if module is not None else None
        if isinstance(kind, type) and isinstance(exc, kind):
            return True
    return isinstance(exc, ConnectionError | TimeoutError)


def _subcommand(args: argparse.Namespace) -> str | None:
    for key, value in vars(args).items():
        if key.endswith("_command") and isinstance(value, str):
            return value
    return None


if __name__ == "__main__":
    sys.exit(main())
