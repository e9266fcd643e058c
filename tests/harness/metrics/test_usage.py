"""Usage metrics: verbosity, latency, cost."""

from __future__ import annotations

import pytest

from harness.metrics import Example, get_metric


def test_length_latency_cost() -> None:
    examples = [Example("1", "one two three four", "one two", latency_s=0.5, cost=0.002),
                Example("2", "", "a b c d", latency_s=1.5, cost=None),
                Example("3", "anything", "", latency_s=None)]
    ratio = get_metric("length_ratio").compute(examples)
    assert ratio.per_example == (2.0, 0.0, None)
    latency = get_metric("latency").compute(examples)
    assert latency.per_example == (0.5, 1.5, None)
    assert latency.corpus["median"] == pytest.approx(1.0) and latency.corpus["total"] == pytest.approx(2.0)
    cost = get_metric("cost").compute(examples)
    assert cost.per_example == (0.002, None, None) and cost.corpus["n"] == 1
    assert get_metric("cost").compute([]).corpus == {"n": 0}
