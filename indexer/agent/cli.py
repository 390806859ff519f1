"""`indexer agent` (run), `indexer agent render --once [--dry-run]`, `indexer agent rotate --now`.

Registered into the `indexer` command by `register()`. Imports stay inside the handlers so the
indexer's own commands never pay for the agent, and the agent never loads Kafka or Elasticsearch.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from indexer.agent.settings import AgentSettings


def register(commands: Any) -> None:
    """Add the `agent` command to the `indexer` subparsers object."""
    agent = commands.add_parser("agent", help="Node agent: filebeat inputs, rotation, pruning.")
    agent.set_defaults(handler=_run)
    actions = agent.add_subparsers(dest="agent_command", metavar="ACTION")
    actions.add_parser("run", help="Run the agent (the default).").set_defaults(handler=_run)
    render = actions.add_parser("render", help="Reconcile filebeat's inputs with the log tree.")
    render.add_argument("--once", action="store_true", help="One pass, then exit (the default).")
    render.add_argument("--dry-run", action="store_true", help="Print what would be written.")
    render.set_defaults(handler=_render)
    rotate = actions.add_parser("rotate", help="Run a rotation pass (the due one, or --now).")
    rotate.add_argument("--now", action="store_true", help="Run now, whatever the schedule.")
    rotate.add_argument(
        "--force", action="store_true", help="With --now: rotate every non-empty file."
    )
    rotate.set_defaults(handler=_rotate)


def _settings(args: argparse.Namespace) -> AgentSettings:
    from indexer.cli_settings import settings_from

    agent: AgentSettings = settings_from(args).agent
    return agent


def _run(args: argparse.Namespace) -> int:
    from indexer.agent.endpoints import serve
    from indexer.agent.filebeat_stats import FilebeatStats
    from indexer.agent.maintenance import Maintenance
    from indexer.agent.metrics import REGISTRY, Liveness
    from indexer.agent.run import Agent

    settings = _settings(args)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    liveness = Liveness(settings.metrics.liveness_timeout_seconds)
    agent = Agent(settings, maintenance=Maintenance(settings), beat=liveness.beat)
    server = None
    if settings.metrics.port:
        if settings.filebeat.stats_url:
            REGISTRY.register(
                FilebeatStats(settings.filebeat.stats_url, settings.filebeat.stats_timeout_seconds)
            )
        try:
            server = serve(
                settings.metrics.host, settings.metrics.port, liveness, agent.paths.ready
            )
        except OSError as exc:  # the port is taken, or the address is not this host's
            print(
                f"indexer agent: cannot listen on {settings.metrics.host}:{settings.metrics.port} "
                f"(INDEXER_AGENT__METRICS__HOST, __PORT): {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
    try:
        agent.run(stop)
    finally:
        if server is not None:
            server.close()
    return 0


def _render(args: argparse.Namespace) -> int:
    from indexer.agent.reconcile import Reconciler
    from indexer.agent.scan import scan

    settings = _settings(args)
    reconciler = Reconciler(settings)
    if not args.dry_run:
        outcome = reconciler.reconcile(trigger="once")
        print(
            f"written {len(outcome.written)}, removed {len(outcome.removed)}, "
            f"failed {len(outcome.failed)}",
            file=sys.stderr,
        )
        return 1 if outcome.failed else 0
    plan = reconciler.plan(scan(settings.logs_root))
    for key, text in plan.desired.items():
        print(f"# {reconciler.path_of(key)}\n{text}", end="" if text.endswith("\n") else "\n")
    for key in plan.remove + plan.waiting:
        print(f"# would remove {reconciler.path_of(key)} (app directory gone)")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from indexer.agent.maintenance import Maintenance

    maintenance = Maintenance(_settings(args))
    try:
        slot = None if args.now else maintenance.due()
        if slot is None and not args.now:
            print("no rotation due", file=sys.stderr)
            return 0
        report = maintenance.run(slot, force=args.now and args.force)
        maintenance.wait()
    finally:
        maintenance.close()
    if report is not None:
        print(f"rotated {len(report.rotated)}, failed {len(report.failed)}", file=sys.stderr)
    return 1 if report is not None and report.failed else 0
