"""The bulk writer's suite (tests/writer_suite.py) against the real osmem server behind the
proxy, dressed as each product: the same tests the unit lane runs against the scripted cluster,
so the script's answers are shown to be the server's (created, duplicate, mapping refusals are
osmem's own; 429s, 413s, malformed answers and auto-create off are the proxy's rules).

One server and bed per product for the module (a fresh osmem spends a second of CPU on its
first index); each test starts from no index of ours and a bed with nothing recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from indexer.embedded import PRODUCTS, Product, start_opensearch
from tests.writer_suite import Bed, OsmemBed, WriterSuite


@pytest.fixture(scope="module", params=PRODUCTS)
def osmem_bed(request: pytest.FixtureRequest) -> Iterator[OsmemBed]:
    product: Product = request.param
    server = start_opensearch()
    bed = OsmemBed(product, server)
    yield bed
    bed.close()
    server.stop()


class TestOsmem(WriterSuite):
    @pytest.fixture
    def bed(self, osmem_bed: OsmemBed) -> Iterator[Bed]:
        osmem_bed.reset()
        yield osmem_bed
