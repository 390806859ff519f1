"""`indexer logs NAMESPACE[/APP[/POD]]`, registered into the main parser.

Reads with the indexer's own settings (`--config`, `INDEXER_ELASTICSEARCH__*`: hosts, API key or
user, CA), so a key that may read only `k8s-logs-<ns>_*` reads that namespace and is refused the
others. It only searches: it never writes to the cluster (a point in time is a read).

Exit statuses: 0 done (or following stopped by SIGINT/SIGTERM); 1 the cluster could not be
reached or refused the read (one line on standard error); 2 bad flags.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from indexer.logs.query import QueryError

EXAMPLES = """\
examples:
  indexer logs shop                        every line of namespace shop, oldest first
  indexer logs shop/cart --since 10m       app cart, the last ten minutes
  indexer logs shop/cart/cart-7d4b9-x2k4q --tail 100 -f
                                           one pod: its last 100 lines, then new ones
  indexer logs shop --from 2026-12-01T09:00:00Z --to 2026-12-01T10:00:00Z
  indexer logs shop/cart --level warn      warnings and worse (warn, warning, error, fatal...)
  indexer logs shop --grep "payment declined" --container app
  indexer logs shop/cart -o wide           time, pod, container and level columns
  indexer logs shop/cart -o json | jq .log.level
  indexer logs shop -f --lateness 60s      follow, allowing lines to become searchable 60 s late
  indexer logs shop -f --interval 5s       follow, searching for new lines every 5 s
  indexer logs shop --color always | less -R   keep the colours through a pager

The cluster and credentials are the indexer's: INDEXER_ELASTICSEARCH__HOSTS, __API_KEY (or
__USERNAME/__PASSWORD), __CA_CERTS, or the same keys in --config. Set
INDEXER_ELASTICSEARCH__DISTRIBUTION (elasticsearch or opensearch) when the key may not read GET /.
docs/reading-logs.md says how -f decides what is new.
"""


def register(commands: Any) -> None:
    """Add `logs` to the `indexer` subparsers object."""
    logs = commands.add_parser(
        "logs",
        help="Print a namespace's, app's or pod's lines from the indices, like kubectl logs.",
        description="Prints the lines of NAMESPACE, NAMESPACE/APP or NAMESPACE/APP/POD from "
        "the indices the indexer writes, oldest first.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument(
        "target", metavar="NAMESPACE[/APP[/POD]]", help="What to read, e.g. shop/cart."
    )
    logs.add_argument(
        "--since", metavar="DURATION", help="Only lines newer than this: 30s, 10m, 2h, 1d."
    )
    logs.add_argument(
        "--from",
        dest="from_",
        metavar="TIME",
        help="Only lines at or after this RFC 3339 time, e.g. 2026-12-01T09:00:00Z.",
    )
    logs.add_argument(
        "--to", metavar="TIME", help="Only lines before this RFC 3339 time (not with -f)."
    )
    logs.add_argument(
        "--tail", type=_count, metavar="N", help="Only the last N lines (then -f goes on)."
    )
    logs.add_argument(
        "-f", "--follow", action="store_true", help="Keep printing new lines as they arrive."
    )
    logs.add_argument(
        "--level",
        metavar="LEVEL",
        help="Only this level and above, in every spelling the indexer keeps: --level warn "
        "reads warn, warning, wrn, error, err, fatal...",
    )
    logs.add_argument(
        "--grep",
        metavar="TEXT",
        help="Only lines whose message contains these words in this order (searched by the "
        'cluster), e.g. --grep "payment declined".',
    )
    logs.add_argument("--container", metavar="NAME", help="Only this container, e.g. app.")
    logs.add_argument(
        "-o",
        "--output",
        choices=("raw", "wide", "json"),
        default="raw",
        help="raw: the line (default); wide: time, pod, container, level, line; json: the "
        "stored document, one per line, e.g. -o json | jq .message.",
    )
    logs.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="Colour by level: auto (default) on a terminal unless NO_COLOR is set.",
    )
    logs.add_argument(
        "--lateness",
        metavar="DURATION",
        default="30s",
        help="With -f: how long after the indexer took a line it may become searchable and "
        "still be shown (default 30s), e.g. --lateness 2m.",
    )
    logs.add_argument(
        "--interval",
        metavar="DURATION",
        default="1s",
        help="With -f: time between searches for new lines (default 1s), e.g. --interval 5s.",
    )
    logs.set_defaults(handler=_logs)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _logs(args: argparse.Namespace) -> int:
    from indexer.cli_settings import settings_from

    settings = settings_from(args)
    if settings.log.level == "info":  # the client's `cluster_connected` is noise here
        from indexer.log import configure_logging

        configure_logging(settings.log.model_copy(update={"level": "warning"}))
    try:
        plan = _plan(args, settings.routing.index_prefix)
    except QueryError as exc:
        print(f"indexer logs: {exc}", file=sys.stderr)
        return 2
    return read_logs(plan, settings.elasticsearch, sys.stdout, _colour(args.color))


class Plan:
    """The parsed flags of one `indexer logs` call."""

    def __init__(self, args: argparse.Namespace, prefix: str) -> None:
        from indexer.logs.query import (
            LogQuery,
            Target,
            levels_at_or_above,
            parse_duration,
            parse_time,
        )

        if args.since is not None and args.from_ is not None:
            raise QueryError("--since and --from both set a start: give one")
        if args.follow and args.to is not None:
            raise QueryError("--to ends the read: it cannot be followed (-f)")
        self.started = time.time()
        since = None
        if args.since is not None:
            since = self.started - parse_duration(args.since)
        elif args.from_ is not None:
            since = parse_time(args.from_)
        until = None if args.to is None else parse_time(args.to)
        if since is not None and until is not None and until <= since:
            raise QueryError("--to must be after the start")
        self.query = LogQuery(
            Target.parse(args.target),
            prefix=prefix,
            since=since,
            until=until,
            levels=None if args.level is None else levels_at_or_above(args.level),
            grep=args.grep,
            container=args.container,
        )
        self.tail: int | None = args.tail
        self.follow: bool = args.follow
        self.output: str = args.output
        self.lateness = parse_duration(args.lateness)
        self.interval = parse_duration(args.interval)


def _plan(args: argparse.Namespace, prefix: str) -> Plan:
    return Plan(args, prefix)


def _colour(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def read_logs(plan: Plan, cluster: Any, out: IO[str], colour: bool) -> int:
    """Run one read (and its follow) against the cluster `cluster` (ElasticsearchSettings)
    names, writing lines to `out`. Returns the exit status; errors are one line on stderr."""
    from indexer.cluster import ClusterError, ClusterUnavailable
    from indexer.redact import redact_text

    hosts = redact_text(", ".join(cluster.hosts))  # named in errors: never a URL's password
    client = _connect(cluster, hosts, plan)
    if client is None:
        return 1
    try:
        _read(client, plan, out, colour)
    except (ClusterError, ClusterUnavailable) as exc:
        return _failed(exc, hosts, plan)
    except BrokenPipeError:
        # The reader went away (`| head`): as `cat` does, stop quietly (and keep Python from
        # complaining when it flushes stdout at exit).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno() if hasattr(out, "fileno") else 1)
    finally:
        client.close()
    return 0


def _connect(cluster: Any, hosts: str, plan: Plan) -> Any:
    """The client, or None after saying why there is none."""
    from indexer.cluster import ClusterError, ClusterUnavailable, client_for

    try:
        return client_for(cluster)
    except ClusterError as exc:
        if exc.status not in (401, 403):
            _failed(exc, hosts, plan)
            return None
        # `GET /` tells the product apart; a key with index privileges only may not ask.
        print(
            f"indexer logs: the cluster at {hosts} refused GET / ({exc.status} "
            f"{exc.error_type}: {exc.reason[:200]}); set INDEXER_ELASTICSEARCH__DISTRIBUTION "
            "to elasticsearch or opensearch to skip it",
            file=sys.stderr,
        )
    except ClusterUnavailable as exc:
        _failed(exc, hosts, plan)
    return None


def _read(client: Any, plan: Plan, out: IO[str], colour: bool) -> None:
    """The read, then (with -f) the follow, until done or SIGINT/SIGTERM. Raises ClusterError,
    ClusterUnavailable, BrokenPipeError."""
    from indexer.logs.follow import Follower
    from indexer.logs.output import SOURCE, formatter
    from indexer.logs.paging import read, tail

    source = SOURCE[plan.output]
    show = formatter(plan.output, colour)  # type: ignore[arg-type]
    stop = threading.Event()
    with _stop_on_signals(stop):
        hits = (
            read(client, plan.query, source)
            if plan.tail is None
            else tail(client, plan.query, plan.tail, source)
        )
        follower = (
            Follower(client, plan.query, plan.started, plan.lateness, source)
            if plan.follow
            else None
        )
        for hit in hits:
            if follower is not None:
                follower.remember(hit)
            out.write(show(hit) + "\n")
            if stop.is_set():
                return
        out.flush()
        if follower is not None:
            follower.run(_printer(out, show), stop, plan.interval)


def _printer(out: IO[str], show: Callable[[dict[str, Any]], str]) -> Callable[[Any], None]:
    def emit(hit: Any) -> None:
        out.write(show(hit) + "\n")
        out.flush()

    return emit


def _failed(exc: Exception, hosts: str, plan: Plan) -> int:
    from indexer.cluster import ClusterError

    if isinstance(exc, ClusterError):
        if exc.status in (401, 403):
            what = (
                "the cluster refused these credentials"
                if exc.status == 401
                else (f"these credentials may not read {plan.query.indices}")
            )
            print(
                f"indexer logs: {what} ({exc.status} {exc.error_type}: {exc.reason[:300]})",
                file=sys.stderr,
            )
        else:
            print(
                f"indexer logs: the cluster at {hosts} answered {exc.status} {exc.error_type}: "
                f"{exc.reason[:300]}",
                file=sys.stderr,
            )
    else:
        print(f"indexer logs: cannot reach the cluster at {hosts}: {exc}", file=sys.stderr)
    return 1


class _stop_on_signals:  # noqa: N801 (a context manager used like a function)
    """SIGINT and SIGTERM set `stop` (the read ends after the current line or poll)."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, frame: Any) -> None:
            self._stop.set()

        self._previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
