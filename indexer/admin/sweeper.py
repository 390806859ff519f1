"""The retention sweeper: lifecycle for clusters without ILM or ISM (or with both turned off).

It deletes daily indices whose day (read from the name, not the creation date, so a re-created
old day is not kept for another full period) is older than their policy's delete `min_age`. It
touches only names the indexer writes (`indexer.admin.naming.parse_index`), one DELETE per index
by its exact name, with a log line for each, and only logs in dry-run mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from indexer.admin import metrics
from indexer.admin.definitions import Definitions, load_checked_definitions
from indexer.admin.naming import OwnedIndex, parse_index
from indexer.admin.validate import winning_template
from indexer.cluster import ClusterError, SearchClient
from indexer.settings import Settings

log = structlog.get_logger()


def policy_for(index: OwnedIndex, definitions: Definitions, settings: Settings) -> str:
    """The policy that governs an owned index: a namespace rule, else the template that would
    create it (when it names one), else the default policy."""
    lifecycle = settings.lifecycle
    if index.namespace is not None:
        policy = lifecycle.policy_for_namespace(index.namespace)
        if policy is not None:
            return policy
    found = winning_template(definitions.index_templates, index.name)
    if found is not None:
        named = definitions.template_policy(found[0])
        if named is not None:
            return named
    return lifecycle.default_policy


class RetentionSweeper:
    def __init__(
        self,
        client: SearchClient,
        settings: Settings,
        *,
        definitions: Definitions | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._settings = settings
        self._definitions = definitions or load_checked_definitions(settings)
        self._now = now

    def expired(self) -> list[tuple[OwnedIndex, str, timedelta]]:
        """Owned indices past their policy's delete age, with that policy and age."""
        prefix = self._settings.routing.index_prefix
        rows = self._client.request(
            "GET",
            f"/_cat/indices/{prefix}-*",
            params={"format": "json", "h": "index", "expand_wildcards": "open,closed"},
        )
        today = self._now()
        found = []
        for row in sorted(rows, key=lambda r: str(r.get("index"))):
            owned = parse_index(prefix, str(row.get("index")))
            if owned is None:
                continue
            policy = policy_for(owned, self._definitions, self._settings)
            age = self._definitions.delete_after(policy)
            start = datetime(owned.day.year, owned.day.month, owned.day.day, tzinfo=UTC)
            if age is not None and today - start >= age:
                found.append((owned, policy, age))
        return found

    def sweep(self) -> list[str]:
        """One pass. Returns the indices deleted (in dry-run mode: those it would delete)."""
        dry_run = self._settings.lifecycle.sweeper_dry_run
        done: list[str] = []
        for owned, policy, age in self.expired():
            if not dry_run:
                try:
                    self._client.request("DELETE", f"/{owned.name}")
                except ClusterError as exc:
                    if exc.status == 404:
                        continue
                    raise
                metrics.RETENTION_DELETED.inc()
            log.info(
                "retention_delete",
                index=owned.name,
                policy=policy,
                older_than=str(age),
                dry_run=dry_run,
            )
            done.append(owned.name)
        metrics.RETENTION_LAST_RUN.set_to_current_time()
        return done

    def start(self, stop: threading.Event) -> threading.Thread:
        """Sweep now and then every `sweeper_interval_seconds` until `stop` is set."""
        thread = threading.Thread(target=self._loop, args=(stop,), name="retention", daemon=True)
        thread.start()
        return thread

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sweep()
            except Exception as exc:  # the next pass retries; a sweeper must not kill the indexer
                log.warning("retention_failed", error=f"{type(exc).__name__}: {exc}"[:500])
            stop.wait(self._settings.lifecycle.sweeper_interval_seconds)
