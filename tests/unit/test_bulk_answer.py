"""A bulk answer without errors is not parsed item by item; any other answer is left to the
client's parser (tests/test_cluster_dialect.py sends both through the real clients)."""

from __future__ import annotations

import pytest

from indexer.cluster import no_errors

ITEMS = ",".join(['{"create":{"status":201}}'] * 3)


@pytest.mark.parametrize("kind", [bytes, str])
def test_an_answer_without_errors_is_not_parsed(kind: type) -> None:
    text = '{"errors":false,"items":[' + ITEMS + "]}"
    answer = no_errors(text.encode() if kind is bytes else text)
    assert answer == {"errors": False}
    answer["errors"] = True  # each caller gets its own dictionary
    assert no_errors(b'{"errors":false}') == {"errors": False}


@pytest.mark.parametrize(
    "text",
    [
        '{"errors":true,"items":[{"create":{"status":429,"error":{"type":"x"}}}]}',
        '{"took":3,"errors":false,"items":[]}',  # unfiltered: parsed as it is
        '{ "errors" : false }',
        '{"errors":falsely}',
        '{"acknowledged":true}',
    ],
)
def test_every_other_answer_is_left_to_the_parser(text: str) -> None:
    assert no_errors(text.encode()) is None
    assert no_errors(text) is None
