"""Salvage against the literal reasons Elasticsearch gives."""

from __future__ import annotations

import json

from indexer.salvage import SALVAGE_FIELD, offending_fields, salvage


def test_the_field_named_by_a_failed_parse_is_found() -> None:
    reason = (
        "failed to parse field [http.response.status_code] of type [long] in document with id "
        "'filebeat:0:17'. Preview of field's value: 'OK'"
    )
    assert offending_fields(reason) == ["http.response.status_code"]


def test_an_object_mapped_field_given_a_value_is_found() -> None:
    reason = "object mapping for [user] tried to parse field [user] as object, but found a concrete value"
    assert offending_fields(reason) == ["user"]


def test_strict_mappings_name_the_new_field_within_its_parent() -> None:
    assert offending_fields(
        "mapping set to strict, dynamic introduction of [color] within [_doc] is not allowed"
    ) == ["color"]
    assert offending_fields(
        "mapping set to strict, dynamic introduction of [size] within [labels] is not allowed"
    ) == ["labels.size"]


def test_a_concrete_mapping_blocking_an_object_is_found() -> None:
    reason = (
        "Could not dynamically add mapping for field [app.kubernetes.io/name]. Existing mapping "
        "for [app] must be of type object but found [keyword]."
    )
    assert "app" in offending_fields(reason)


def test_a_nested_offending_field_is_moved_and_the_rest_kept() -> None:
    document = {
        "message": "GET /",
        "http": {"response": {"status_code": "OK", "bytes": 10}},
        "kubernetes": {"namespace": "shop"},
    }
    result = salvage(
        document,
        "mapper_parsing_exception",
        "failed to parse field [http.response.status_code]",
        "T",
    )
    assert result is not None
    assert result["http"] == {"response": {"bytes": 10}}
    assert json.loads(result[SALVAGE_FIELD]["fields"]) == {"http.response.status_code": "OK"}
    assert result["message"] == "GET /"


def test_without_a_named_field_everything_beyond_the_core_fields_is_moved() -> None:
    document = {"message": "m", "@timestamp": "t", "a": 1, "b": {"c": 2}}
    result = salvage(
        document,
        "illegal_argument_exception",
        "Limit of total fields [1000] has been exceeded while adding new fields [3]",
        "T",
    )
    assert result is not None
    assert set(result) == {"message", "@timestamp", SALVAGE_FIELD}
    assert json.loads(result[SALVAGE_FIELD]["fields"]) == {"a": 1, "b": {"c": 2}}


def test_other_errors_and_already_salvaged_documents_are_not_salvaged() -> None:
    assert salvage({"a": 1}, "cluster_block_exception", "index read-only", "T") is None
    assert (
        salvage(
            {SALVAGE_FIELD: {}, "a": 1},
            "mapper_parsing_exception",
            "failed to parse field [a]",
            "T",
        )
        is None
    )
    assert (
        salvage({"message": "only core"}, "mapper_parsing_exception", "no field named", "T") is None
    )


def test_an_unparsable_timestamp_is_kept_aside_and_replaced_by_the_kafka_time() -> None:
    document = {"@timestamp": "yesterday at noon", "message": "m"}
    reason = "failed to parse field [@timestamp] of type [date] in document with id 't:0:1'"
    result = salvage(document, "mapper_parsing_exception", reason, "2026-11-26T10:00:00.000Z")
    assert result is not None
    assert result["@timestamp"] == "2026-11-26T10:00:00.000Z"
    assert json.loads(result[SALVAGE_FIELD]["fields"]) == {"@timestamp": "yesterday at noon"}
