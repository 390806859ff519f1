"""What a replay selects: times, index names, filters, and dead letters read back."""

from __future__ import annotations

import base64

import pytest

from indexer.replay.scope import Scope, ScopeError, identity_of_index, parse_instant
from indexer.replay.stored import DeadLetter, MalformedDeadLetter, StoredMessage
from indexer.replay.window import replay_consumer_config
from indexer.settings import KafkaSettings


def test_instants_without_an_offset_are_utc_and_dates_mean_midnight() -> None:
    assert parse_instant("2026-11-25T10:00:00Z") == 1795600800.0
    assert parse_instant("2026-11-25T10:00:00") == 1795600800.0
    assert parse_instant("2026-11-25T11:00:00+01:00") == 1795600800.0
    assert parse_instant("2026-11-25") == 1795564800.0
    with pytest.raises(ScopeError):
        parse_instant("yesterday")


def test_namespace_and_app_are_read_back_from_routed_index_names_only() -> None:
    assert identity_of_index("k8s-logs", "k8s-logs-shop_cart-2026.11.25") == ("shop", "cart")
    assert identity_of_index("k8s-logs", "k8s-logs-a-b_c.d-2026.11.25") == ("a-b", "c.d")
    for name in (
        "k8s-logs-unmatched-2026.11.25",
        "k8s-logs-deadletter-2026.11.25",
        "other-a_b-2026.11.25",
    ):
        assert identity_of_index("k8s-logs", name) is None


def test_the_window_is_half_open_and_must_not_be_empty() -> None:
    scope = Scope(since=10.0, until=20.0)
    assert scope.in_window(10.0) and scope.in_window(19.999) and not scope.in_window(20.0)
    assert not scope.in_window(9.999)
    assert Scope().in_window(0.0)
    with pytest.raises(ScopeError):
        Scope(since=20.0, until=20.0)


def test_namespace_and_app_filters_combine_and_exclude_messages_of_no_identity() -> None:
    assert Scope().selects_identity(None)
    shop = Scope(namespaces=frozenset({"shop"}))
    assert shop.selects_identity(("shop", "cart")) and not shop.selects_identity(("blog", "cart"))
    assert not shop.selects_identity(None)
    web = Scope(namespaces=frozenset({"shop"}), apps=frozenset({"web"}))
    assert web.selects_identity(("shop", "web")) and not web.selects_identity(("shop", "cart"))
    assert Scope(apps=frozenset({"web"})).selects_identity(("blog", "web"))


def test_only_an_explicit_error_type_names_an_error() -> None:
    assert Scope().selects_error("invalid_json") and not Scope().names_error("invalid_json")
    named = Scope(error_types=frozenset({"invalid_json"}))
    assert named.names_error("invalid_json") and not named.selects_error("mapper_parsing_exception")


def _hit(**source: object) -> dict[str, object]:
    return {"_index": "k8s-logs-deadletter-2026.11.25", "_id": "t:1:7", "_source": source}


def test_a_dead_letter_poses_as_its_original_kafka_message() -> None:
    letter = DeadLetter.from_hit(
        _hit(
            **{"@timestamp": "2026-11-25T10:00:00.123+00:00"},
            error={"type": "invalid_utf8", "message": "..."},
            kafka={"topic": "t", "partition": 1, "offset": 7},
            event={"original_base64": base64.b64encode(b"\xff").decode()},
        )
    )
    message = StoredMessage(letter)
    assert (message.topic(), message.partition(), message.offset()) == ("t", 1, 7)
    assert message.value() == b"\xff" and message.timestamp() == (1, 1795600800123)
    assert letter.target_index is None and letter.error_type == "invalid_utf8"


def test_a_dead_letter_without_its_kafka_coordinates_is_malformed() -> None:
    with pytest.raises(MalformedDeadLetter):
        DeadLetter.from_hit(_hit(**{"@timestamp": "2026-11-25T10:00:00Z"}, error={"type": "x"}))


def test_the_replay_consumer_can_neither_commit_nor_join_the_indexers_group() -> None:
    settings = KafkaSettings(
        group_id="log-indexer",
        options={
            "enable.auto.commit": True,
            "group.instance.id": "pod-0",
            "security.protocol": "SSL",
        },
    )
    config = replay_consumer_config(settings, 1795600800.0)
    assert config["group.id"] == "log-indexer-replay-1795600800"
    assert config["enable.auto.commit"] is False and "group.instance.id" not in config
    assert config["security.protocol"] == "SSL" and config["enable.partition.eof"] is True
