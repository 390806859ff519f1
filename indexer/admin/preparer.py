"""Prepare each index on first sight: namespace template, shard budget, explicit creation.

The writer calls `ensure(index)` (or `prepare(index, namespace)`) the first time it meets an
index name, never per event, and writes to the name it gets back:

- the namespace's own index template is put first when its policy is not the default one
  (`<prefix>-ns-<namespace>`, priority 520; replicas racing put the same body, and
  `create=true` makes the loser's request a no-op);
- an app index that does not exist yet is created only if the cluster keeps `shard_reserve`
  shards free afterwards; otherwise the app's documents go to the namespace's shared daily index
  (`<prefix>-<namespace>__shared-YYYY.MM.DD`; documents keep their `service.name`);
- the fallback is decided once for the whole cluster, not per replica: falling back adds an alias
  with the app index's name pointing at the shared index (`is_write_index`). The cluster applies
  index creations and alias changes one at a time and refuses a name that is already the other
  kind (below), so of two replicas racing, one creates the app index or the alias and the other
  follows what it finds: every replica, and every re-delivery of a message, writes the app's
  documents of that day to the same index;
- a new index is created with its own constants (`data_stream.*`, `event.dataset`: see
  `index_body.py`), so they cost nothing per document;
- a shared index that holds an app's documents without such an alias (written by a version
  before the alias; found by `service.name` in any case) keeps that app for the day too, and
  gets the alias.

Without setup privileges (`lifecycle.setup_on_start: false`: the runtime role of
deploy/roles/, which may not manage templates), nothing privileged is sent: no namespace
template is put; on ILM a namespace's own policy goes into the create-index request instead
(`index.lifecycle.name`, which the request's settings may carry with `create_index` alone), and
on ISM the policies' `ism_template` patterns, which `indexer setup` puts, already name it. Each
index's mappings are then read once (`GET /<index>/_mapping`, `view_index_metadata`): an index
whose mappings do not carry our `_meta.managed_by` was shaped without our templates (setup has
not run): `TemplatesMissing` (retried and parked, readiness fails naming `indexer setup`), never
a document written into it.

How the cluster answers the race, on Elasticsearch and OpenSearch alike (and osmem):
creating an index whose name is an alias: 400 `invalid_index_name_exception`, `Invalid index
name [<name>], already exists as alias` (`ES: server/src/main/java/org/elasticsearch/cluster/
metadata/MetadataCreateIndexService.java`, `validateIndexName`); adding an alias whose name is an
index: 400 `invalid_alias_name_exception`, `... an index [or data stream] exists with the same name
as the alias` (`ES: .../cluster/metadata/AliasValidator.java`, `validateAlias`). Adding an alias
that exists already is a no-op.

Errors: `PrepareRejected` (an `IndexRejected`, always naming the index asked for) when the
cluster refuses the index, or its namespace template, for a reason retrying cannot fix (a 403
`security_exception`, a 400): dead-letter that index's documents. `ShardBudgetExhausted` and
`IndexBlocked` (`IndexNotReady`s: retried, and parked by the writer) when not even the shared index fits or a block refuses:
retry later, nothing is lost. `ClusterUnavailable` and `ClusterError` 401/404/408/409/429/5xx
propagate as they are: retry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import structlog

from indexer.admin import metrics
from indexer.admin.budget import ShardBudget, is_shard_limit_error, shards_of_new_index
from indexer.admin.definitions import Definitions, load_checked_definitions
from indexer.admin.errors import SetupError
from indexer.admin.index_body import create_body
from indexer.admin.naming import parse_index, shared_index
from indexer.admin.plan import plan_one
from indexer.admin.render import MANAGED_BY, namespace_template
from indexer.cluster import ClusterError, ClusterInfo, SearchClient, detect
from indexer.indices import IndexNotReady, IndexRejected
from indexer.outcome import BLOCKED
from indexer.settings import Settings

log = structlog.get_logger()


class PrepareRejected(IndexRejected):
    """The cluster refused the index (or its template) for good: dead-letter its documents."""


class IndexBlocked(IndexNotReady):
    """A block refuses the index for now (OpenSearch's create-index block at high disk usage):
    retry later, nothing is lost."""

    reason = "index_blocked"


class ShardBudgetExhausted(IndexNotReady):
    """Not even the namespace's shared index fits in the cluster's shards: retry later."""

    reason = "shard_budget_exhausted"


class TemplatesMissing(IndexNotReady):
    """The index exists without our templates' mappings (`indexer setup` has not run, or
    someone else's template won): retry later, nothing is written into it meanwhile."""

    reason = "templates_missing"


class _NameIsAlias(PrepareRejected):
    """Creating an index failed because its name is an alias (another replica fell back)."""


class IndexPreparer:
    """Thread-safe. Network calls happen only for names not seen before (or forgotten)."""

    def __init__(
        self,
        client: SearchClient,
        settings: Settings,
        *,
        cluster: ClusterInfo | None = None,
        definitions: Definitions | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_namespace: Callable[[str], None] | None = None,
        on_templates: Callable[[bool], None] = lambda ok: None,
    ) -> None:
        """`on_namespace` hears each namespace whose index was prepared (the background Kibana
        setup, indexer.kibana.ondemand); it must not block. `on_templates` hears, without setup
        privileges, whether the last index checked carried our templates (readiness)."""
        self._client = client
        self._on_namespace = on_namespace
        self._on_templates = on_templates
        # Without setup on start the API key is the runtime role's: it may not put templates.
        self._privileged = settings.lifecycle.setup_on_start
        self._settings = settings
        self._lifecycle = settings.lifecycle
        self._prefix = settings.routing.index_prefix
        self._cluster = cluster
        self._definitions = definitions
        self._budget = ShardBudget(client, settings.lifecycle.headroom_ttl_seconds, clock)
        self._lock = threading.RLock()
        self._targets: dict[str, str] = {}
        self._namespaces: set[str] = set()

    def ensure(self, index: str) -> str:
        """The core's contract: make sure a writable index exists for `index`; return its name."""
        target = self._targets.get(index)  # the common case, without the lock
        if target is not None:
            return target
        parsed = parse_index(self._prefix, index)
        return self.prepare(index, parsed.namespace if parsed else None)

    def prepare(self, index: str, namespace: str | None) -> str:
        """The index to write `index`'s documents to, created if needed (see the module doc).

        Whatever refuses for good on the way (the namespace template, a look-up, the creation)
        is reported as a PrepareRejected of `index` itself, so its documents, and only they,
        are dead-lettered, and never written to an index named after what refused."""
        with self._lock:
            target = self._targets.get(index)
            if target is None:
                try:
                    target = self._prepare(index, namespace)
                except PrepareRejected as exc:
                    if exc.index == index:
                        raise
                    reason = f"{exc.index}: {exc.reason}"
                    raise PrepareRejected(index, exc.error_type, reason) from exc
                except ClusterError as exc:
                    _reraise(index, exc)
                if not self._privileged:
                    self._check_templates(target)
                self._targets[index] = target
                if namespace is not None and self._on_namespace is not None:
                    self._on_namespace(namespace)
            return target

    def forget(self, index: str) -> None:
        """Forget an index that turned out to be gone (deleted by lifecycle, say)."""
        with self._lock:
            for name, target in list(self._targets.items()):
                if index in (name, target):
                    del self._targets[name]

    def _prepare(self, index: str, namespace: str | None) -> str:
        parsed = parse_index(self._prefix, index)
        if namespace is not None:
            self._ensure_namespace_template(namespace)
        if parsed is None or parsed.kind != "app" or namespace is None:
            self._create(index)
            return index
        found = self._resolve(index)
        if found is not None:
            metrics.INDICES_PREPARED.labels("existing" if found == index else "shared").inc()
            return found
        shared = shared_index(self._prefix, namespace, parsed.day.strftime("%Y.%m.%d"))
        if parsed.app is not None and self._already_shared(shared, parsed.app):
            return self._fall_back(index, namespace, shared)
        cost = shards_of_new_index(self._definitions_(), index)
        if self._budget.free() - cost >= self._lifecycle.shard_reserve:
            try:
                self._create(index, cost)
                return index
            except ShardBudgetExhausted:
                pass  # another writer took the last shards first: fall back like below
            except _NameIsAlias:
                return self._follow_alias(index)
        return self._fall_back(index, namespace, shared)

    def _fall_back(self, index: str, namespace: str, shared: str) -> str:
        """Send `index`'s documents to `shared`, for every replica: through an alias named
        `index`, unless another replica created `index` itself first (then that is used)."""
        metrics.SHARD_BUDGET_FALLBACK.labels(namespace).inc()
        log.warning(
            "shard_budget_fallback",
            index=index,
            shared_index=shared,
            headroom=self._budget.free(),
            reserve=self._lifecycle.shard_reserve,
        )
        if not self._exists(shared):
            self._create(shared, shards_of_new_index(self._definitions_(), shared))
        action = {"add": {"index": shared, "alias": index, "is_write_index": True}}
        try:
            self._client.request("POST", "/_aliases", {"actions": [action]})
        except ClusterError as exc:
            if exc.error_type == "invalid_alias_name_exception":
                log.info("app_index_exists", index=index, shared_index=shared)
                metrics.INDICES_PREPARED.labels("existing").inc()
                return index
            _reraise(index, exc)
        metrics.INDICES_PREPARED.labels("shared").inc()
        return shared

    def _follow_alias(self, index: str) -> str:
        target = self._resolve(index)
        if target is None:  # the alias went away in between (its index was deleted): retry
            raise ShardBudgetExhausted(f"index {index} was an alias and is gone")
        log.info("following_alias", index=index, target=target)
        metrics.INDICES_PREPARED.labels("shared" if target != index else "existing").inc()
        return target

    def _resolve(self, name: str) -> str | None:
        """The index that writes to `name` go to: `name` itself if it is an index, the write
        index if it is an alias, None if it is neither."""
        try:
            answer = self._client.request("GET", f"/{name}/_alias")
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise
        # Each key an index, each value `{"aliases": {...}}`; anything else is not an answer
        # Elasticsearch or OpenSearch gives: treat it as a bad gateway (retried).
        if type(answer) is not dict or not all(
            type(entry) is dict and type(entry.get("aliases")) is dict for entry in answer.values()
        ):
            reason = f"GET /{name}/_alias answered {answer!r:.200}"
            raise ClusterError(502, {"error": {"type": "malformed_response", "reason": reason}})
        if name in answer:
            return name
        targets: list[str] = sorted(answer)
        for target in targets:
            if answer[target]["aliases"].get(name, {}).get("is_write_index"):
                return target
        return targets[0] if len(targets) == 1 else None

    def _create(self, index: str, cost: int | None = None) -> None:
        try:
            self._client.request("PUT", f"/{index}", self._create_body(index))
        except ClusterError as exc:
            if exc.error_type == "resource_already_exists_exception":
                metrics.INDICES_PREPARED.labels("existing").inc()
                return
            if exc.error_type == "invalid_index_name_exception" and "alias" in exc.reason:
                raise _NameIsAlias(index, exc.error_type, exc.reason) from exc
            if is_shard_limit_error(exc):
                self._budget.invalidate()
                raise ShardBudgetExhausted(f"creating index {index}: {exc.reason}") from exc
            _reraise(index, exc)
        self._budget.charge(
            cost if cost is not None else shards_of_new_index(self._definitions_(), index)
        )
        metrics.INDICES_PREPARED.labels("created").inc()
        log.info("index_created", index=index)

    def _create_body(self, index: str) -> dict[str, Any] | None:
        """The create-index body; without setup privileges, on ILM, with the namespace's own
        policy (which a namespace template would carry otherwise)."""
        body = create_body(self._cluster_(), self._prefix, index)
        if self._privileged or self._cluster_().lifecycle != "ilm":
            return body
        owned = parse_index(self._prefix, index)
        policy = self._namespace_policy(owned.namespace) if owned else None
        if policy is None:
            return body
        body = dict(body or {})
        body["settings"] = {"index.lifecycle.name": policy}
        return body

    def _namespace_policy(self, namespace: str | None) -> str | None:
        """The namespace's own policy when it is not the default one (and lifecycle is on)."""
        if namespace is None or self._lifecycle.mode == "off":
            return None
        policy = self._lifecycle.policy_for_namespace(namespace)
        return None if policy in (None, self._lifecycle.default_policy) else policy

    def _check_templates(self, index: str) -> None:
        """TemplatesMissing unless `index`'s mappings carry our `_meta.managed_by`."""
        try:
            answer = self._client.request("GET", f"/{index}/_mapping")
        except ClusterError as exc:
            _reraise(index, exc)
        owners = {
            str(((entry.get("mappings") or {}).get("_meta") or {}).get("managed_by"))
            for entry in answer.values()
            if isinstance(entry, dict)
        }
        if owners != {MANAGED_BY}:
            self._on_templates(False)
            log.error(
                "templates_missing",
                index=index,
                hint="run `indexer setup` (the log-indexer-setup Job) with the setup role",
            )
            raise TemplatesMissing(
                f"index {index} has no mappings of our templates: run `indexer setup`"
            )
        self._on_templates(True)

    def _exists(self, index: str) -> bool:
        return self._client.exists(f"/{index}")

    def _already_shared(self, shared: str, app: str) -> bool:
        if not self._exists(shared):
            return False
        answer = self._client.request(
            "POST",
            f"/{shared}/_count",
            # `app` comes from the index name, in lower case; `service.name` keeps the label's
            # spelling (`Cart-API`), and every spelling of the app shares the index.
            {"query": {"term": {"service.name": {"value": app, "case_insensitive": True}}}},
        )
        return int(answer.get("count", 0)) > 0

    def _ensure_namespace_template(self, namespace: str) -> None:
        if namespace in self._namespaces:
            return
        policy = self._namespace_policy(namespace)
        if policy is not None and self._privileged:
            self._put_namespace_template(namespace, policy)
        self._namespaces.add(namespace)

    def _put_namespace_template(self, namespace: str, policy: str) -> None:
        desired = namespace_template(
            self._definitions_(), self._cluster_(), self._prefix, namespace, policy
        )
        what = f"namespace template {desired.name}"
        try:
            plan = plan_one(self._client, desired, overwrite=False)
        except ClusterError as exc:
            _reraise(what, exc)
        if plan.action == "foreign":
            raise PrepareRejected(
                desired.name, "foreign_template", f"the cluster's copy belongs to {plan.owner}"
            )
        if plan.request is None:
            log.info("namespace_template", name=desired.name, action=plan.action)
            return
        params = {"create": "true"} if plan.action == "create" else None
        try:
            self._client.request("PUT", desired.path, desired.body, params)
        except ClusterError as exc:
            if "already exists" in exc.reason:
                return  # another replica put it between our GET and PUT
            _reraise(what, exc)
        metrics.NAMESPACE_TEMPLATES.inc()
        log.info("namespace_template", name=desired.name, action=plan.action, policy=policy)

    def _definitions_(self) -> Definitions:
        if self._definitions is None:
            try:
                self._definitions = load_checked_definitions(self._settings)
            except SetupError as exc:
                raise PrepareRejected("(templates)", "definitions_invalid", str(exc)) from exc
        return self._definitions

    def _cluster_(self) -> ClusterInfo:
        if self._cluster is None:
            self._cluster = detect(self._client, self._lifecycle)
        return self._cluster


# Answers that say "not now" (or are no fault of one index): retried, never dead-lettered. A 401
# is our credentials, for every index alike: dead-lettering would move the whole stream aside.
# 404 and 409 are races with another replica or a lifecycle (the next attempt looks again).
_TRANSIENT = frozenset({401, 404, 408, 409, 429})


def _reraise(what: str, exc: ClusterError) -> NoReturn:
    """Raise what a refusal while preparing `what` means: the error itself (retried as it is),
    IndexBlocked (retried), or PrepareRejected (for good: a 403 `security_exception` on a
    template the API key may not manage, a 400 on a template the cluster will not take)."""
    if exc.status in _TRANSIENT or exc.status >= 500:
        raise exc
    if exc.error_type in BLOCKED:
        raise IndexBlocked(f"preparing {what}: {exc.reason}") from exc
    raise PrepareRejected(what, exc.error_type, exc.reason) from exc
