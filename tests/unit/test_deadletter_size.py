"""What a dead letter keeps of its message, and the Kafka timestamps routing accepts."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import pytest

from indexer.bulk import KAFKA_MILLIS_MAX, clockless, message_seconds
from indexer.dead_letter_shape import deadletter_document, keep_original
from indexer.route import day_of_epoch, iso_timestamp

CREATE_TIME = 1  # confluent_kafka.TIMESTAMP_CREATE_TIME


@dataclass(frozen=True)
class Stamped:
    """As much of a confluent_kafka.Message as `message_seconds` reads."""

    kind: int
    millis: int

    def timestamp(self) -> tuple[int, int]:
        return self.kind, self.millis


def test_a_message_within_the_limit_is_kept_whole_with_its_size_and_hash() -> None:
    value = b'{"message": "fine"}'
    kept = keep_original(value, 100)
    assert kept.kept == value and not kept.truncated
    assert kept.size == len(value) and kept.sha256 == hashlib.sha256(value).hexdigest()


def test_a_longer_message_keeps_its_first_bytes_and_describes_the_whole() -> None:
    value = b"x" * 1000 + b"tail"
    kept = keep_original(value, 600)
    assert kept.kept == b"x" * 600 and kept.truncated
    assert kept.size == 1004 and kept.sha256 == hashlib.sha256(value).hexdigest()
    assert keep_original(value, 0).kept == b""
    assert keep_original(None, 10).size == 0


@pytest.mark.parametrize("limit", range(1, 13))
def test_a_utf8_message_is_never_cut_inside_a_character(limit: int) -> None:
    value = "aé€😀b".encode() * 2  # characters of 1, 2, 3 and 4 bytes
    kept = keep_original(value, limit).kept
    assert len(kept) <= limit and len(kept) >= limit - 3
    assert value.startswith(kept)
    kept.decode("utf-8")  # raises if a character was split


def test_a_shortened_dead_letter_says_so_and_keeps_text_as_text() -> None:
    value = ("é" * 600).encode()  # 1200 bytes
    letter = deadletter_document(
        value=value,
        topic="filebeat",
        partition=0,
        offset=7,
        kafka_seconds=1_700_000_000.0,
        error_type="invalid_json",
        reason="not valid JSON",
        max_original_bytes=501,
    )
    assert letter["event"] == {"original": "é" * 250}
    assert letter["deadletter"] == {
        "original_size": 1200,
        "original_sha256": hashlib.sha256(value).hexdigest(),
        "truncated": True,
    }


def test_kafka_timestamps_inside_the_representable_range_are_used_as_they_are() -> None:
    assert message_seconds(Stamped(CREATE_TIME, 1_796_206_533_011)) == 1_796_206_533.011
    assert message_seconds(Stamped(CREATE_TIME, 946_684_800_000)) == 946_684_800.0


@pytest.mark.parametrize("millis", [0, 42_000, 946_684_799_999, -5, -(2**63)])
def test_kafka_timestamps_of_a_clock_never_set_are_routed_by_the_wall_clock(millis: int) -> None:
    before = time.time()
    seconds = message_seconds(Stamped(CREATE_TIME, millis))
    assert before <= seconds <= time.time()
    assert clockless(Stamped(CREATE_TIME, millis))
    assert not clockless(Stamped(CREATE_TIME, 946_684_800_000))
    assert not clockless(Stamped(CREATE_TIME, -1))  # no timestamp: not a clock's fault


@pytest.mark.parametrize(
    ("millis", "day"),
    [
        (300_000_000_000_000, "9999.12.31"),  # the year 11476
        (2**63 - 1, "9999.12.31"),
        (KAFKA_MILLIS_MAX + 1, "9999.12.31"),
    ],
)
def test_absurd_kafka_timestamps_are_clamped_the_same_way_every_time(millis: int, day: str) -> None:
    seconds = message_seconds(Stamped(CREATE_TIME, millis))
    assert seconds == message_seconds(Stamped(CREATE_TIME, millis))  # pure: no wall clock
    assert day_of_epoch(seconds) == day
    iso_timestamp(seconds)  # what routing and salvage do with it: no ValueError any more
    deadletter_document(
        value=b"x",
        topic="t",
        partition=0,
        offset=0,
        kafka_seconds=seconds,
        error_type="invalid_json",
        reason="",
    )


def test_the_dead_letter_size_limit_is_a_setting_with_a_clear_error() -> None:
    from indexer.settings import SettingsError, load_settings

    assert load_settings().deadletter.max_original_bytes == 900_000
    assert load_settings(deadletter={"max_original_bytes": 0}).deadletter.max_original_bytes == 0
    with pytest.raises(SettingsError, match=r"INDEXER_DEADLETTER__MAX_ORIGINAL_BYTES"):
        load_settings(deadletter={"max_original_bytes": -1})
