"""The bulk writer in-process against the scripted cluster, both products: every outcome row,
the 413 split, malformed answers, re-creation on 404, salvage, the dead-letter shrink and the
parking paths, in milliseconds (tests/writer_suite.py; tests/test_bulk_writer_osmem.py runs the
same suite against the real server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.embedded import PRODUCTS, Product
from tests.writer_suite import Bed, ScriptedBed, WriterSuite


class TestScripted(WriterSuite):
    @pytest.fixture(params=PRODUCTS)
    def bed(self, request: pytest.FixtureRequest) -> Iterator[Bed]:
        product: Product = request.param
        yield ScriptedBed(product)
