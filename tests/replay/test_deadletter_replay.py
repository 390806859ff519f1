"""`indexer deadletter replay` on the real servers: dead letters from a mapping conflict go back
to their indices under their own `_id` once the template is fixed, exactly once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from indexer.cluster import SearchClient
from indexer.embedded import CompatProxy, ServerProcess
from tests.replay.helpers import DAY, at, event, produce_at, run_command
from tests.support import (
    PARSING_ERROR,
    IndexerProcess,
    cluster,
    count,
    create_topic,
    documents,
    documents_by_id,
    indexer_env,
    record_of,
    wait_for,
)

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

EVERYWHERE = "k8s-logs-*"  # the target indices and the dead letters
TOPIC = "filebeat-dl"
TARGETS = "k8s-logs-shop_*,k8s-logs-blog_*,k8s-logs-home_*"
CONFLICT = "a string where the template maps an object"

# A template that maps `custom` as an object. The salvage field is taken by a keyword too, so
# the indexer's salvaged second attempt is refused as well and the events are dead-lettered.
BROKEN = {"custom": {"type": "object"}, "indexer_salvage": {"type": "keyword"}}
FIXED = {"custom": {"type": "object", "enabled": False}, "indexer_salvage": {"type": "keyword"}}


def _put_template(es: SearchClient, properties: dict[str, Any], priority: int = 600) -> None:
    """Above ours (510, 520 for namespace templates), so it is the one these indices get."""
    es.request(
        "PUT",
        "/_index_template/custom-fields",
        {
            "index_patterns": ["k8s-logs-shop_*", "k8s-logs-blog_*"],
            "priority": priority,
            "template": {"mappings": {"properties": properties}},
        },
    )


def _drop(es: SearchClient, pattern: str, es_url: str) -> None:
    for index in es.request("GET", f"/{pattern}", params={"allow_no_indices": "true"}):
        assert count(es_url, index) == 0, index
        es.request("DELETE", f"/{index}")


@dataclass
class DeadLettered:
    """What the setup produced: values by id, and the ids of each group of messages."""

    env: dict[str, str]
    produced: dict[str, bytes]
    groups: dict[str, set[str]]

    def ids(self, *names: str) -> set[str]:
        return set().union(*(self.groups[n] for n in names))


def _dead_lettered(kafka: ServerProcess, es_url: str, tmp_path: Path) -> DeadLettered:
    """Run the indexer over events the broken template refuses; return once all have landed."""
    es = cluster(es_url)
    _put_template(es, BROKEN)
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, 2)
    plan: list[tuple[str, bytes, int]] = []
    for i in range(4):
        plan.append(("cart", event("shop", "cart", at(i), custom=CONFLICT), i % 2))
    for i in range(3):
        plan.append(("web", event("shop", "web", at(10 + i), custom=CONFLICT), i % 2))
    for i in range(3):
        plan.append(("blog", event("blog", "api", at(120 + i), custom=CONFLICT), i % 2))
    for i in range(3):
        plan.append(("fine", event("home", "page", at(i), custom={"nested": i}), i % 2))
    plan += [("junk", b"not json {", 0), ("junk", b"[1, 2]", 1)]
    # Kafka timestamps: a minute apart, the blog's two hours later (for the --since filter).
    stamps = [at(n + (120 if group == "blog" else 0)) for n, (group, _, _) in enumerate(plan)]
    ids = produce_at(
        bootstrap, TOPIC, [(v, t, p) for (_, v, p), t in zip(plan, stamps, strict=True)]
    )
    produced = {doc_id: value for doc_id, (_, value, _) in zip(ids, plan, strict=True)}
    groups: dict[str, set[str]] = {}
    for doc_id, (group, _, _) in zip(ids, plan, strict=True):
        groups.setdefault(group, set()).add(doc_id)

    env = indexer_env(bootstrap, es_url)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(
        lambda: count(es_url, "k8s-logs-*") >= len(produced),
        45,
        "every event indexed or dead-lettered",
    )
    assert indexer.stop() == 0
    letters = documents(es_url, "k8s-logs-deadletter-*")
    assert letters.keys() == set().union(*(groups[g] for g in ("cart", "web", "blog", "junk")))
    for doc_id in groups["cart"]:
        assert letters[doc_id][1]["error"]["type"] in PARSING_ERROR.values()
        assert letters[doc_id][1]["deadletter"]["target_index"] == f"k8s-logs-shop_cart-{DAY}"
    return DeadLettered(env, produced, groups)


def _fix_template(es_url: str) -> None:
    """What ops do: fix the template, drop the (empty) indices created with the broken one."""
    es = cluster(es_url)
    _put_template(es, FIXED)
    _drop(es, "k8s-logs-shop_*,k8s-logs-blog_*", es_url)


def _replay(env: dict[str, str], *flags: str) -> tuple[int, dict[str, Any]]:
    return run_command(env, "deadletter", "replay", *flags)


def _letter_ids(es_url: str) -> set[str]:
    return set(documents(es_url, "k8s-logs-deadletter-*"))


def _snapshot(es_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Target indices and dead letters, each read separately (one id can be in both while a
    replay has not deleted its dead letter yet)."""
    return documents(es_url, TARGETS), documents(es_url, "k8s-logs-deadletter-*")


def test_replayed_dead_letters_land_in_their_index_under_their_id_once_and_leave_the_dead_letters(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _dead_lettered(kafka, es_proxy.url, tmp_path)
    _fix_template(es_proxy.url)
    es = cluster(es_proxy.url)
    # A dead letter carries its document's _id; the listing names dead letters by it.
    letter_record = {
        doc_id: record_of(source)
        for doc_id, (_, source) in documents_by_id(es_proxy.url, "k8s-logs-deadletter-*").items()
    }
    # One was indexed already (a replay that stopped before deleting its dead letter, say).
    already = sorted(setup.groups["cart"])[0]
    (already_id,) = [doc_id for doc_id, record in letter_record.items() if record == already]
    topic, partition, offset = already.rsplit(":", 2)
    stored = json.loads(setup.produced[already])
    stored["kafka"] = {"topic": topic, "partition": int(partition), "offset": int(offset)}
    es.request("PUT", f"/k8s-logs-shop_cart-{DAY}/_create/{already_id}", stored)
    before = _snapshot(es_proxy.url)

    code, dry = _replay(setup.env, "--dry-run")
    assert code == 0, dry
    assert (dry["selected"], dry["would_replay"], dry["skipped"]) == (
        12,
        10,
        {"invalid_json": 1, "not_an_object": 1},
    )
    listed = {letter_record[entry["id"]]: entry for entry in dry["listing"]}
    assert listed.keys() == setup.ids("cart", "web", "blog", "junk")
    assert listed[already]["target_index"] == f"k8s-logs-shop_cart-{DAY}"
    assert _snapshot(es_proxy.url) == before, "a dry run changed something"

    code, summary = _replay(setup.env)
    assert code == 0, summary
    assert summary["replayed"] == 10 and summary["deleted"] == 10
    assert (summary["indexed"], summary["duplicates"]) == (9, 1)
    assert summary["still_failing"] == {}
    assert summary["skipped"] == {"invalid_json": 1, "not_an_object": 1}

    found = documents(es_proxy.url, EVERYWHERE)  # fails on an _id stored twice
    assert found.keys() == setup.produced.keys()
    assert _letter_ids(es_proxy.url) == setup.ids("junk")
    for doc_id in setup.ids("cart", "web", "blog"):
        index, source = found[doc_id]
        original = json.loads(setup.produced[doc_id])
        namespace, app = original["log"]["file"]["path"].split("/")[3:5]
        assert index == f"k8s-logs-{namespace}_{app}-{DAY}"
        assert source["custom"] == CONFLICT and source["message"] == original["message"]
        if doc_id != already:
            assert source["kubernetes"]["namespace"] == namespace
            assert source["service"]["name"] == app

    code, again = _replay(setup.env)
    assert code == 0, again
    assert (again["selected"], again["replayed"], again["indexed"]) == (2, 0, 0)
    assert documents(es_proxy.url, EVERYWHERE) == found


def test_namespace_app_time_limit_and_error_type_filters_replay_only_the_dead_letters_they_select(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _dead_lettered(kafka, es_proxy.url, tmp_path)
    _fix_template(es_proxy.url)
    remaining = setup.ids("cart", "web", "blog", "junk")

    letter_record = {
        doc_id: record_of(source)
        for doc_id, (_, source) in documents_by_id(es_proxy.url, "k8s-logs-deadletter-*").items()
    }
    code, dry = _replay(setup.env, "--namespace", "shop", "--app", "web", "--dry-run")
    assert code == 0 and {letter_record[e["id"]] for e in dry["listing"]} == setup.groups["web"]
    code, summary = _replay(setup.env, "--namespace", "shop", "--app", "web")
    assert code == 0 and summary["replayed"] == 3, summary
    remaining -= setup.groups["web"]
    assert _letter_ids(es_proxy.url) == remaining

    since = at(60).isoformat()
    code, summary = _replay(setup.env, "--since", since, "--until", at(600).isoformat())
    assert code == 0 and summary["replayed"] == 3, summary
    remaining -= setup.groups["blog"]
    assert _letter_ids(es_proxy.url) == remaining

    # Undecodable originals named explicitly are tried, fail again, and are kept.
    code, summary = _replay(setup.env, "--error-type", "invalid_json")
    assert code == 1, summary
    assert summary["selected"] == 1 and summary["still_failing"] == {"invalid_json": 1}
    assert _letter_ids(es_proxy.url) == remaining

    code, summary = _replay(setup.env, "--namespace", "shop", "--limit", "2")
    assert code == 0 and summary["replayed"] == 2, summary
    left = _letter_ids(es_proxy.url) & setup.groups["cart"]
    assert len(left) == 2
    assert documents(es_proxy.url, EVERYWHERE).keys() == setup.produced.keys()


def test_dead_letters_that_fail_again_are_kept_unchanged_next_to_replayed_ones_and_exit_1(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _dead_lettered(kafka, es_proxy.url, tmp_path)
    es = cluster(es_proxy.url)
    # Fixed for the shop namespace only: the blog's dead letters fail again, in the same batch.
    es.request(
        "PUT",
        "/_index_template/custom-fields-shop",
        {
            "index_patterns": ["k8s-logs-shop_*"],
            "priority": 700,
            "template": {"mappings": {"properties": FIXED}},
        },
    )
    _drop(es, "k8s-logs-shop_*", es_proxy.url)
    targets, letters = _snapshot(es_proxy.url)

    code, summary = _replay(setup.env)

    assert code == 1, summary
    assert summary["replayed"] == summary["deleted"] == 7
    ((still, failing),) = summary["still_failing"].items()
    assert (still, failing) in {(name, 3) for name in PARSING_ERROR.values()}
    after_targets, after_letters = _snapshot(es_proxy.url)
    assert after_letters == {k: v for k, v in letters.items() if k not in setup.ids("cart", "web")}
    assert after_targets.keys() == targets.keys() | setup.ids("cart", "web")
    assert (
        documents(es_proxy.url, EVERYWHERE).keys() == setup.produced.keys()
    )  # nothing lost or doubled


def test_a_dead_letter_whose_id_holds_another_line_is_kept_and_the_other_line_left_alone(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _dead_lettered(kafka, es_proxy.url, tmp_path)
    _fix_template(es_proxy.url)
    es = cluster(es_proxy.url)
    letter_record = {
        doc_id: record_of(source)
        for doc_id, (_, source) in documents_by_id(es_proxy.url, "k8s-logs-deadletter-*").items()
    }
    # Another line already holds one dead letter's id (a shipper that reused its @metadata._id,
    # a collision): the replay's 409 must not pass for "already stored".
    victim = sorted(setup.groups["cart"])[0]
    (victim_id,) = [doc_id for doc_id, record in letter_record.items() if record == victim]
    other = json.loads(setup.produced[victim])
    other["message"] = "another line, stored first under the same id"
    es.request("PUT", f"/k8s-logs-shop_cart-{DAY}/_create/{victim_id}", other)
    stored_before = documents_by_id(es_proxy.url, f"k8s-logs-shop_cart-{DAY}")[victim_id]

    code, summary = _replay(setup.env)

    assert code == 1, summary
    assert summary["still_failing"] == {"id_taken_by_another_line": 1}
    assert (summary["replayed"], summary["deleted"], summary["duplicates"]) == (9, 9, 1)
    assert _letter_ids(es_proxy.url) == setup.ids("junk") | {victim}
    assert documents_by_id(es_proxy.url, f"k8s-logs-shop_cart-{DAY}")[victim_id] == stored_before

    code, again = _replay(setup.env)  # idempotent: the same letter kept again, nothing doubled
    assert code == 1 and again["still_failing"] == {"id_taken_by_another_line": 1}, again
    assert _letter_ids(es_proxy.url) == setup.ids("junk") | {victim}


RED = {
    "type": "unavailable_shards_exception",
    "reason": "[k8s-logs-shop_cart][0] primary shard is not active Timeout: [1m]",
}


def test_a_replay_into_a_still_red_index_keeps_its_dead_letters_exits_1_and_stores_all_once_healed(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    """The runbook's `--error-type retry_exhausted` while the index is still red: the writer
    parks what keeps answering 503, and a parked document has no outcome. Its dead letter is the
    only copy: it stays, the run says so and exits 1; once healed, a second run stores it."""
    from tests.support.faults import RefuseItemsInto

    setup = _dead_lettered(kafka, es_proxy.url, tmp_path)
    _fix_template(es_proxy.url)
    letters_before = documents(es_proxy.url, "k8s-logs-deadletter-*")
    red = RefuseItemsInto(es_server.port, "k8s-logs-shop_", 503, RED)
    es_proxy.fault = red
    env = {**setup.env, "INDEXER_RETRY__PARK_AFTER_ATTEMPTS": "2"}

    code, summary = run_command(env, "deadletter", "replay")

    assert code == 1, summary
    assert red.refused >= 7
    assert summary["still_failing"] == {"unavailable_shards_exception": 7}, summary
    assert summary["not_written"] == {"unavailable_shards_exception": 7}, summary
    assert (summary["replayed"], summary["deleted"]) == (3, 3), summary
    # The numbers add up: selected = replayed + still failing (kept) + skipped (kept).
    assert summary["selected"] == 3 + 7 + sum(summary["skipped"].values()) == 12
    remaining = documents(es_proxy.url, "k8s-logs-deadletter-*")
    assert remaining.keys() == setup.ids("cart", "web", "junk")
    for doc_id in setup.ids("cart", "web"):  # kept unchanged, not rewritten
        assert remaining[doc_id] == letters_before[doc_id]
    assert not documents(es_proxy.url, "k8s-logs-shop_*")

    es_proxy.fault = None
    code, healed = run_command(env, "deadletter", "replay")

    assert code == 0, healed
    assert (healed["replayed"], healed["deleted"], healed["indexed"]) == (7, 7, 7), healed
    assert _letter_ids(es_proxy.url) == setup.ids("junk")
    stored = documents(es_proxy.url, EVERYWHERE)  # fails on an _id stored twice
    assert stored.keys() == setup.produced.keys()
    for doc_id in setup.ids("cart", "web"):
        assert stored[doc_id][1]["message"] == json.loads(setup.produced[doc_id])["message"]
