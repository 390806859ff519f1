"""Make filebeat's `inputs.d` hold exactly one input per app directory of the tree.

Only files named like ours (`indexer-agent.<ns>.<app>.yml`) are touched. An input whose app
directory is gone is kept for `removal_grace_seconds` from when the agent first saw it gone, so
a directory that is briefly recreated (or a redeploy) never makes filebeat drop its state. When
that was is kept in `state_dir` (on the host path), so a restarted agent keeps counting instead of
starting the grace period over.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog

from indexer.agent import metrics
from indexer.agent.render import AppKey, app_of_file, file_name, parse_input, render_text
from indexer.agent.scan import Tree, scan
from indexer.agent.settings import AgentSettings
from indexer.agent.skips import kind_of
from indexer.agent.write import remove, write_atomic

log = structlog.get_logger()


@dataclass
class Plan:
    """What one reconcile would do: the full desired texts, and the inputs due for removal."""

    desired: dict[AppKey, str] = field(default_factory=dict)
    remove: list[AppKey] = field(default_factory=list)
    waiting: list[AppKey] = field(default_factory=list)


@dataclass
class Outcome:
    """What one reconcile did."""

    written: list[AppKey] = field(default_factory=list)
    removed: list[AppKey] = field(default_factory=list)
    waiting: list[AppKey] = field(default_factory=list)
    failed: list[AppKey] = field(default_factory=list)


GONE_FILE = "inputs-gone.json"


class Reconciler:
    """Holds the only state a reconcile needs: since when each vanished app has been gone.

    `clock` gives wall-clock seconds: the state outlives the process."""

    def __init__(self, settings: AgentSettings, clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._clock = clock
        self._gone_since = _load_gone(settings.state_dir)

    def plan(self, tree: Tree) -> Plan:
        """Desired inputs for `tree`, and which existing ones are gone (due or still in grace)."""
        plan = Plan()
        for key in sorted(tree.apps):
            try:
                plan.desired[key] = render_text(self._settings, *key)
            except Exception as exc:  # a broken override template must not stop the others
                _failed("render", key, exc)
        now = self._clock()
        before = dict(self._gone_since)
        for key in sorted(self.existing() - tree.apps):
            since = self._gone_since.setdefault(key, now)
            due = now - since >= self._settings.removal_grace_seconds
            (plan.remove if due else plan.waiting).append(key)
        for key in tree.apps:
            self._gone_since.pop(key, None)
        if self._gone_since != before:
            self._save_gone()
        return plan

    def reconcile(self, tree: Tree | None = None, trigger: str = "periodic") -> Outcome:
        """Scan (unless given a tree), then write changed inputs and remove due ones."""
        started = time.monotonic()
        plan = self.plan(tree if tree is not None else scan(self._settings.logs_root))
        outcome = self._apply(plan)
        metrics.RECONCILES.labels(trigger).inc()
        metrics.RECONCILE_SECONDS.observe(time.monotonic() - started)
        metrics.INPUTS.set(len(self.existing()))
        if outcome.written or outcome.removed or outcome.failed:
            log.info(
                "agent.reconciled",
                trigger=trigger,
                written=len(outcome.written),
                removed=len(outcome.removed),
                waiting=len(outcome.waiting),
                failed=len(outcome.failed),
            )
        return outcome

    def existing(self) -> set[AppKey]:
        """The apps that have an input file of ours in `inputs_dir`."""
        try:
            names = os.listdir(self._settings.inputs_dir)
        except FileNotFoundError:
            return set()
        return {key for key in map(app_of_file, names) if key is not None}

    def path_of(self, key: AppKey) -> Path:
        return self._settings.inputs_dir / file_name(*key)

    def _apply(self, plan: Plan) -> Outcome:
        outcome = Outcome(waiting=list(plan.waiting))
        self._settings.inputs_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        for key, text in plan.desired.items():
            try:
                if self._write(key, text):
                    outcome.written.append(key)
                    metrics.INPUTS_RENDERED.inc()
            except Exception as exc:
                outcome.failed.append(key)
                _failed("write", key, exc)
        for key in plan.remove:
            if remove(self.path_of(key)):
                outcome.removed.append(key)
                metrics.INPUTS_REMOVED.inc()
            self._gone_since.pop(key, None)
        if plan.remove:
            self._save_gone()
        return outcome

    def _save_gone(self) -> None:
        state_dir = self._settings.state_dir
        text = json.dumps({f"{ns}/{app}": since for (ns, app), since in self._gone_since.items()})
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(state_dir / GONE_FILE, text, mode=0o600, uid=os.getuid(), gid=os.getgid())
        except OSError as exc:  # the grace period then restarts after a restart, nothing worse
            metrics.ERRORS.labels("state", kind_of(exc)).inc()
            log.warning("agent.state_not_saved", file=str(state_dir / GONE_FILE), error=str(exc))

    def _write(self, key: AppKey, text: str) -> bool:
        settings = self._settings
        return write_atomic(
            self.path_of(key),
            text,
            mode=0o644,
            uid=settings.input_owner_uid,
            gid=settings.input_owner_gid,
            check=partial(parse_input, settings, namespace=key[0], app=key[1]),
        )


def _load_gone(state_dir: Path) -> dict[AppKey, float]:
    try:
        data = json.loads((state_dir / GONE_FILE).read_text(encoding="utf-8"))
        gone = {tuple(key.split("/", 1)): float(since) for key, since in data.items()}
    except (FileNotFoundError, ValueError, TypeError, AttributeError):
        return {}
    return {(key[0], key[1]): since for key, since in gone.items() if len(key) == 2}


def _failed(stage: str, key: AppKey, exc: Exception) -> None:
    metrics.ERRORS.labels(stage, kind_of(exc)).inc()
    log.error("agent.input_failed", stage=stage, namespace=key[0], app=key[1], error=str(exc))
