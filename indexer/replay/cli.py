"""`indexer deadletter replay` and `indexer replay`, registered into the main parser.

Importing this module loads nothing of Kafka or Elasticsearch: the handlers import the replay
machinery when they run, so other commands (the node agent's above all) stay free of them.

Exit statuses: 0 done (for `deadletter replay`: nothing still failing); 1 dead letters still
failing or not confirmed, a replay left incomplete or interrupted, or an error talking to the
servers; 2 bad settings or flags.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any, cast

from indexer.replay.scope import Scope, ScopeError, parse_instant


def register(commands: Any) -> None:
    """Add `deadletter replay` and `replay` to the `indexer` subparsers object."""
    deadletter = commands.add_parser("deadletter", help="Work with dead letters.")
    actions = deadletter.add_subparsers(dest="deadletter_command", metavar="ACTION", required=True)
    replay_letters = actions.add_parser(
        "replay",
        help="Send dead letters to their indices again (after the cause was fixed).",
        description="Replays dead letters from the dead-letter indices through decode, route "
        "and the bulk writer; deletes each dead letter once its document is in its index.",
    )
    _add_scope_flags(replay_letters, window_required=False, what="the dead letter's @timestamp")
    replay_letters.add_argument(
        "--error-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="Only dead letters of this error.type (repeatable). Naming an undecodable type "
        "(invalid_json, ...) replays those too, which then count as still failing.",
    )
    replay_letters.add_argument(
        "--limit", type=_positive, default=None, metavar="N", help="At most N dead letters."
    )
    replay_letters.add_argument(
        "--dry-run",
        action="store_true",
        help="List and count what would be replayed; change nothing.",
    )
    replay_letters.set_defaults(handler=_replay_deadletters)

    window = commands.add_parser(
        "replay",
        help="Read a Kafka time window again into the same daily indices (no duplicates).",
        description="Re-consumes [--since, --until) by Kafka timestamp with a consumer of its "
        "own (no group, no commits) and writes it through the bulk writer; documents already "
        "indexed count as duplicates.",
    )
    _add_scope_flags(window, window_required=True, what="the Kafka timestamp")
    window.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        help="Only this topic (repeatable); default: the configured topics or pattern.",
    )
    window.add_argument(
        "--dry-run",
        action="store_true",
        help="Read and count what would be written; write nothing.",
    )
    window.set_defaults(handler=_replay_window)


def _add_scope_flags(parser: argparse.ArgumentParser, window_required: bool, what: str) -> None:
    parser.add_argument(
        "--since",
        required=window_required,
        metavar="TIME",
        help=f"ISO 8601 start (inclusive) on {what}; UTC unless an offset is given.",
    )
    parser.add_argument(
        "--until", required=window_required, metavar="TIME", help="ISO 8601 end (exclusive)."
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="Only this namespace (repeatable).",
    )
    parser.add_argument(
        "--app",
        action="append",
        default=[],
        metavar="APP",
        help="Only this app (repeatable; any case: apps differing only in case share an index).",
    )
    parser.add_argument("--json", action="store_true", help="Print the summary as one JSON object.")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _scope(args: argparse.Namespace) -> Scope:
    return Scope(
        since=None if args.since is None else parse_instant(args.since),
        until=None if args.until is None else parse_instant(args.until),
        namespaces=frozenset(args.namespace),
        apps=frozenset(args.app),
        error_types=frozenset(getattr(args, "error_type", [])),
    )


def _replay_deadletters(args: argparse.Namespace) -> int:
    from indexer.bulk import DeadLetterRejected
    from indexer.cli_settings import settings_from
    from indexer.cluster import ClusterError, ClusterUnavailable
    from indexer.replay.deadletters import DeadLetterReplay
    from indexer.replay.report import describe_deadletters
    from indexer.replay.writing import build_writing

    settings = settings_from(args)
    try:
        scope = _scope(args)
    except ScopeError as exc:
        print(f"indexer deadletter replay: {exc}", file=sys.stderr)
        return 2
    writing = build_writing(settings)
    replay = DeadLetterReplay(
        settings, writing.client, writing.writer, scope, writing.stop, args.limit, args.dry_run
    )
    try:
        with _stop_on_signals(writing.stop):
            summary = replay.run()
    except (DeadLetterRejected, ClusterError, ClusterUnavailable) as exc:
        print(f"indexer deadletter replay: {type(exc).__name__}: {exc}", file=sys.stderr)
        _show(replay.summary.as_dict(), args.json, describe_deadletters)
        return 1
    finally:
        writing.close()
    _show(summary.as_dict(), args.json, describe_deadletters)
    return 1 if summary.failed else 0


def _replay_window(args: argparse.Namespace) -> int:
    from confluent_kafka import KafkaException

    from indexer.bulk import BulkWriter, DeadLetterRejected
    from indexer.cli_settings import settings_from
    from indexer.replay.moved import MovedGuard
    from indexer.replay.report import describe_window
    from indexer.replay.window import ReplayError, WindowReplay
    from indexer.replay.writing import build_writing

    settings = settings_from(args)
    try:
        scope = _scope(args)
    except ScopeError as exc:
        print(f"indexer replay: {exc}", file=sys.stderr)
        return 2
    writing = build_writing(settings)
    # Nothing is written where its _id is already stored in another index (replay/moved.py).
    guard = MovedGuard(writing.writer, writing.client, settings.routing.index_prefix)
    writer = cast("BulkWriter", guard)  # it has the one method WindowReplay calls: write()
    replay = WindowReplay(settings, writer, scope, writing.stop, args.topic, dry_run=args.dry_run)
    try:
        with _stop_on_signals(writing.stop):
            summary = replay.run()
    except (ReplayError, KafkaException, DeadLetterRejected) as exc:
        print(f"indexer replay: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        writing.close()
    _show({**summary.as_dict(), "moved": guard.moved}, args.json, describe_window)
    if guard.moved:
        print(
            f"indexer replay: {guard.moved} documents are stored under their _id in another "
            "index than they route to now (routing or parsing changed since): not written "
            "again, counted as duplicates (replay_moved lines name them)",
            file=sys.stderr,
        )
    return 1 if summary.failed else 0


def _show(data: dict[str, Any], as_json: bool, describe: Any) -> None:
    if as_json:
        print(json.dumps(data, sort_keys=False))
    else:
        for line in describe(data):
            print(line)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM stop the replay between batches (a retrying write gives up)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
