"""heap.settle: start-up objects frozen out of the collector's walks, young threshold raised."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from indexer import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_lives_and_raises_the_young_threshold() -> None:
    alive = [object() for _ in range(10)]
    gc.unfreeze()
    heap.settle()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > len(alive)
    assert heap.YOUNG_THRESHOLD > 700  # CPython's default, which the drain profile measured


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_after_settle_are_still_collected() -> None:
    heap.settle()

    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second
    assert gc.collect() >= 2
