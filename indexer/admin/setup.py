"""`indexer setup` (and `templates diff`, and setup on start): apply the definitions to a
cluster, idempotently, and tell what differs.

The steps, each in its own module and each only reading the ones before it: the files as read
(`sources.py`) → checked definitions (`definitions.py`) → the bodies this cluster gets
(`render.py`) → a plan per object against the cluster's copy (`plan.py`, where the ownership
and version rules are) → apply, here: refuse foreign objects before sending anything, put what
the plan says, then check (`preflight.py`) that our templates are the ones the cluster would
apply to the first index of each kind. The runtime (the preparer, the sweeper) uses the steps,
never this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from indexer.admin.definitions import Definitions, load_checked_definitions
from indexer.admin.errors import SetupError
from indexer.admin.plan import ObjectPlan, PlannedRequest, plan_one
from indexer.admin.preflight import preflight
from indexer.admin.render import MANAGED_BY, Desired, desired_objects, unsupported_ism_actions
from indexer.cluster import ClusterError, ClusterInfo, SearchClient, detect
from indexer.settings import Settings

log = structlog.get_logger()


@dataclass
class SetupReport:
    cluster: ClusterInfo
    dry_run: bool
    outcomes: list[ObjectPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[ObjectPlan]:
        return [o for o in self.outcomes if o.action == "conflict"]

    @property
    def requests(self) -> list[PlannedRequest]:
        return [o.request for o in self.outcomes if o.request is not None]

    def lines(self) -> list[str]:
        head = f"cluster: {self.cluster.distribution} {self.cluster.version}"
        out = [f"{head}, lifecycle: {self.cluster.lifecycle}"]
        out += [str(o) for o in self.outcomes]
        out += [f"preflight: {c}" for c in self.checks]
        out += [f"note: {n}" for n in self.notes]
        return out


def run_setup(
    client: SearchClient, settings: Settings, *, dry_run: bool = False, overwrite: bool = False
) -> SetupReport:
    """Put what the files define (rendered for this cluster), following the ownership and
    version rules, then run the pre-flight check.

    Raises SetupError for broken files or unknown policy names, for an object of ours whose name
    someone else owns on the cluster, for a 4xx refusal of a read or a put (the message names the
    object), and when the pre-flight finds that a template not ours would shape our indices.
    ClusterUnavailable and ClusterErrors 429/5xx propagate (the caller retries). With `dry_run`,
    nothing is written: the report's `requests` are what would have been sent.
    """
    definitions = load_checked_definitions(settings)
    cluster = detect(client, settings.lifecycle)
    report = SetupReport(cluster, dry_run, notes=_ism_notes(definitions, cluster))
    desired = desired_objects(
        definitions, cluster, settings.lifecycle, settings.routing.index_prefix
    )
    planned = [(one, _plan(client, one, overwrite)) for one in desired]
    report.outcomes = [plan for _, plan in planned]
    _refuse_foreign(report.outcomes)
    for one, plan in planned:
        if plan.request is not None and not dry_run:
            _send(client, one, plan.request)
        log.info("setup_object", kind=one.kind, name=one.name, action=plan.action, dry_run=dry_run)
    # The cluster can simulate what it holds: after applying, or when nothing would change.
    in_place = not dry_run or all(o.action == "unchanged" for o in report.outcomes)
    report.checks = preflight(
        client, settings, [d for d in desired if d.kind == "index_template"], applied=in_place
    )
    report.notes += [_conflict_note(conflict) for conflict in report.conflicts]
    return report


def diff(client: SearchClient, settings: Settings) -> SetupReport:
    """What differs between the files and the cluster (a dry run that records differences)."""
    return run_setup(client, settings, dry_run=True, overwrite=False)


def _ism_notes(definitions: Definitions, cluster: ClusterInfo) -> list[str]:
    if cluster.lifecycle != "ism":
        return []
    notes = []
    for name, body in definitions.policies.items():
        missing = unsupported_ism_actions(body)
        if missing:
            notes.append(f"ISM has no equivalent for {name}: {', '.join(missing)}")
    return notes


def _plan(client: SearchClient, desired: Desired, overwrite: bool) -> ObjectPlan:
    try:
        return plan_one(client, desired, overwrite=overwrite)
    except ClusterError as exc:
        _refuse_for_good(exc, f"reading {desired.kind} {desired.name}")
        raise


def _refuse_foreign(plans: list[ObjectPlan]) -> None:
    foreign = [o for o in plans if o.action == "foreign"]
    if foreign:
        raise SetupError(
            "; ".join(
                f"{o.kind} {o.name} exists on the cluster and belongs to {o.owner}, not to "
                f"{MANAGED_BY}: refusing to touch it (rename ours or remove theirs)"
                for o in foreign
            )
        )


def _send(client: SearchClient, desired: Desired, planned: PlannedRequest) -> None:
    try:
        client.request(planned.method, planned.path, planned.body, planned.params or None)
    except ClusterError as exc:
        _refuse_for_good(exc, f"{desired.kind} {desired.name}")
        raise


def _refuse_for_good(exc: ClusterError, what: str) -> None:
    """429 and 5xx stay the cluster's own (the caller retries: this returns); other refusals
    are final: SetupError, caused by the cluster's error."""
    if exc.status == 429 or exc.status >= 500:
        return
    raise SetupError(
        f"the cluster refused {what} ({exc.status} {exc.error_type}): {exc.reason}"
    ) from exc


def _conflict_note(conflict: ObjectPlan) -> str:
    return (
        f"{conflict.kind} {conflict.name}: same version {conflict.file_version} differs on the "
        f"cluster ({'; '.join(conflict.differences[:5])}); use --overwrite to replace it"
    )
