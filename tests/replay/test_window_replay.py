"""`indexer replay --since --until` on the real servers: a Kafka time window is read again into
the same daily indices; what is missing comes back, what is there answers 409, nothing outside
the window is read into Elasticsearch, and the indexer's group offsets do not move."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from indexer.embedded import CompatProxy, ServerProcess
from tests.replay.helpers import (
    DAY,
    at,
    bulk_ids,
    delete_documents,
    event,
    produce_at,
    run_command,
)
from tests.support import IndexerProcess, count, create_topic, documents, indexer_env, wait_for

# End to end: `indexer` runs as a process (the e2e lane, on one bed: tests/conftest.py).
pytestmark = pytest.mark.slow

TOPIC = "filebeat-window"
PARTITIONS = 2
MINUTES = 48
WINDOW = (12, 36)  # [since, until) in minutes after T0


@dataclass
class Indexed:
    env: dict[str, str]
    bootstrap: str
    by_minute: dict[int, str]
    """Document id of the event stamped (in Kafka and in @timestamp) at each minute."""

    def ids(self, minutes: range | list[int]) -> set[str]:
        return {self.by_minute[m] for m in minutes}


def _namespace(minute: int) -> str:
    return "shop" if minute % 2 == 0 else "blog"


def _index(minute: int) -> str:
    return f"k8s-logs-{_namespace(minute)}_api-{DAY}"


def _indexed(kafka: ServerProcess, es_url: str, tmp_path: Path) -> Indexed:
    """One event a minute for 48 minutes over two partitions, in batches of various sizes,
    all indexed by the indexer (which then stops and commits)."""
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, TOPIC, PARTITIONS)
    by_minute: dict[int, str] = {}
    sizes = [5, 1, 7, 3, 9, 2, 11, 4, 6]  # messages produced together share a batch
    minute = 0
    for size in sizes:
        chunk = [
            (event(_namespace(m), "api", at(m)), at(m), (m // 3) % PARTITIONS)
            for m in range(minute, min(minute + size, MINUTES))
        ]
        produced = produce_at(bootstrap, TOPIC, chunk)
        for m, doc_id in zip(range(minute, minute + len(chunk)), produced, strict=True):
            by_minute[m] = doc_id
        minute += len(chunk)
    assert minute == MINUTES

    env = indexer_env(bootstrap, es_url)
    indexer = IndexerProcess(env, tmp_path / "indexer.log").start()
    wait_for(lambda: count(es_url) >= MINUTES, 45, "every event indexed")
    assert indexer.stop() == 0
    assert documents(es_url).keys() == set(by_minute.values())
    return Indexed(env, bootstrap, by_minute)


def _committed(bootstrap: str, group: str = "log-indexer") -> dict[int, int]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    )
    result = admin.list_consumer_group_offsets([request])[group].result(10)
    return {tp.partition: tp.offset for tp in result.topic_partitions}


def _groups(bootstrap: str) -> set[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listed = admin.list_consumer_groups().result(10)
    return {group.group_id for group in listed.valid}


def _window_flags() -> list[str]:
    return ["--since", at(WINDOW[0]).isoformat(), "--until", at(WINDOW[1]).isoformat()]


def test_a_window_replay_restores_the_deleted_documents_of_the_window_and_reads_nothing_else(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _indexed(kafka, es_proxy.url, tmp_path)
    committed = _committed(setup.bootstrap)
    groups = _groups(setup.bootstrap)
    inside, outside = [12, 13, 20, 29, 35], [5, 11, 36, 40]
    where = {setup.by_minute[m]: _index(m) for m in inside + outside}
    delete_documents(es_proxy.url, where)
    es_proxy.requests.clear()

    code, summary = run_command(setup.env, "replay", *_window_flags())

    assert code == 0, summary
    window = setup.ids(range(*WINDOW))
    assert summary["selected"] == len(window) == 24
    assert (summary["indexed"], summary["duplicates"]) == (len(inside), len(window) - len(inside))
    assert summary["incomplete"] == [] and summary["deadlettered"] == {}
    written = bulk_ids(r.body for r in es_proxy.requests if "_bulk" in r.path)
    assert sorted(doc_id for _, doc_id in written) == sorted(window), "read outside the window"
    minute_of = {doc_id: m for m, doc_id in setup.by_minute.items()}
    assert all(index == _index(minute_of[doc_id]) for index, doc_id in written)

    found = documents(es_proxy.url)  # fails on an _id stored twice
    assert found.keys() == set(setup.by_minute.values()) - setup.ids(outside)
    assert _committed(setup.bootstrap) == committed, "the replay moved the group's offsets"
    assert _groups(setup.bootstrap) == groups, "the replay left a consumer group behind"

    code, again = run_command(setup.env, "replay", *_window_flags())
    assert code == 0 and (again["indexed"], again["duplicates"]) == (0, 24), again
    assert documents(es_proxy.url) == found

    # A window reaching past the newest message ends at each partition's end.
    flags = ["--since", at(40).isoformat(), "--until", at(600).isoformat()]
    code, tail = run_command(setup.env, "replay", *flags)
    assert code == 0 and (tail["indexed"], tail["duplicates"]) == (1, 7), tail
    assert {p["stop"] for p in tail["partitions"].values()} == {"end"}
    assert documents(es_proxy.url).keys() == found.keys() | setup.ids([40])


def test_a_namespace_filtered_window_replay_writes_only_that_namespace_and_a_dry_run_writes_nothing(
    kafka: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    setup = _indexed(kafka, es_proxy.url, tmp_path)
    window = list(range(*WINDOW))
    where = {setup.by_minute[m]: _index(m) for m in window}
    delete_documents(es_proxy.url, where)
    es_proxy.requests.clear()

    code, dry = run_command(
        setup.env, "replay", *_window_flags(), "--namespace", "blog", "--dry-run"
    )
    assert code == 0, dry
    assert dry["selected"] == 12 and dry["filtered_out"] == 12
    assert dry["by_index"] == {f"k8s-logs-blog_api-{DAY}": 12}
    assert not [r for r in es_proxy.requests if "_bulk" in r.path], "a dry run wrote"

    code, summary = run_command(setup.env, "replay", *_window_flags(), "--namespace", "blog")
    assert code == 0, summary
    assert (summary["indexed"], summary["duplicates"]) == (12, 0)
    blog = {setup.by_minute[m] for m in window if _namespace(m) == "blog"}
    written = bulk_ids(r.body for r in es_proxy.requests if "_bulk" in r.path)
    assert {doc_id for _, doc_id in written} == blog
    found = documents(es_proxy.url)
    assert found.keys() == set(setup.by_minute.values()) - (setup.ids(window) - blog)


def test_a_window_replay_of_one_topic_ends_on_empty_partitions_and_leaves_other_topics_alone(
    kafka: ServerProcess, es_proxy: CompatProxy
) -> None:
    bootstrap = f"127.0.0.1:{kafka.port}"
    create_topic(bootstrap, "filebeat-a", 3)
    create_topic(bootstrap, "filebeat-b", 1)
    wanted = produce_at(
        bootstrap, "filebeat-a", [(event("shop", "api", at(m)), at(m), m % 2) for m in range(6)]
    )
    produce_at(bootstrap, "filebeat-b", [(event("shop", "api", at(m)), at(m), 0) for m in range(4)])
    env = indexer_env(bootstrap, es_proxy.url)

    code, summary = run_command(
        env,
        "replay",
        "--topic",
        "filebeat-a",
        "--since",
        at(0).isoformat(),
        "--until",
        at(60).isoformat(),
    )

    assert code == 0, summary
    assert summary["topics"] == ["filebeat-a"] and summary["indexed"] == 6
    assert set(summary["partitions"]) == {"filebeat-a[0]", "filebeat-a[1]", "filebeat-a[2]"}
    assert all(p["stop"] in ("end", "empty") for p in summary["partitions"].values())
    assert documents(es_proxy.url).keys() == set(wanted)


def test_a_window_replay_under_item_429s_never_exits_0_with_documents_missing(
    kafka: ServerProcess, es_server: ServerProcess, es_proxy: CompatProxy, tmp_path: Path
) -> None:
    """Items still answered 429 after the writer's rounds are parked: they have no outcome. The
    replay must say so and fail, and a later run (the cluster calm again) restores them."""
    from tests.support.faults import RefuseItemsInto

    setup = _indexed(kafka, es_proxy.url, tmp_path)
    window = list(range(*WINDOW))
    delete_documents(es_proxy.url, {setup.by_minute[m]: _index(m) for m in window})
    busy = RefuseItemsInto(
        es_server.port,
        "k8s-logs-shop_",
        429,
        {
            "type": "es_rejected_execution_exception",
            "reason": "rejected execution of coordinating operation",
        },
    )
    es_proxy.fault = busy
    env = {**setup.env, "INDEXER_RETRY__PARK_AFTER_ATTEMPTS": "2"}

    code, summary = run_command(env, "replay", *_window_flags())

    assert code == 1, summary
    shop = {setup.by_minute[m] for m in window if _namespace(m) == "shop"}
    assert summary["not_written"] == {"es_rejected_execution_exception": len(shop)}, summary
    assert summary["indexed"] == len(window) - len(shop)
    assert summary["written"] == summary["indexed"] + summary["duplicates"] + len(shop)
    assert documents(es_proxy.url).keys() == set(setup.by_minute.values()) - shop

    es_proxy.fault = None
    code, calm = run_command(env, "replay", *_window_flags())
    assert code == 0 and (calm["indexed"], calm["not_written"]) == (len(shop), {}), calm
    assert documents(es_proxy.url).keys() == set(setup.by_minute.values())
