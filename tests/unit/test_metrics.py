from __future__ import annotations

from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from indexer import metrics
from indexer.metrics import NamespaceCounter


def _value(namespace: str) -> float:
    sample = REGISTRY.get_sample_value(
        "indexer_namespace_documents_total", {"namespace": namespace}
    )
    return sample or 0.0


def test_namespace_labels_are_bounded_and_the_rest_count_as_other() -> None:
    counter = NamespaceCounter("cardtest")
    watched = ("ns0", f"ns{metrics.NAMESPACE_LABEL_LIMIT - 1}", "_other")
    before = {namespace: _value(namespace) for namespace in watched}

    def grown(namespace: str) -> float:
        return _value(namespace) - before[namespace]

    limit = metrics.NAMESPACE_LABEL_LIMIT
    indices = {f"cardtest-ns{n}_app-2026.11.26": 2 for n in range(limit + 50)}
    counter.count(indices)
    assert grown("ns0") == 2
    assert grown(f"ns{limit - 1}") == 2
    assert _value(f"ns{limit + 10}") == 0
    assert grown("_other") == 100
    counter.count({"cardtest-ns0_other-app-2026.11.27": 3, "cardtest-unmatched-2026.11.26": 1})
    assert grown("ns0") == 5


def test_every_metric_follows_the_naming_conventions() -> None:
    catalogue = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    assert len(catalogue) > 15
    for metric in catalogue:
        for family in metric.collect():
            assert family.name.startswith("indexer_"), family.name
            assert family.documentation, family.name
            if family.type == "histogram":
                assert family.name.endswith(("_seconds", "_documents")), family.name
