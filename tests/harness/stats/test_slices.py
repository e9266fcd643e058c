"""Per-slice intervals."""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from harness.stats.slices import MISSING, slice_results, slice_values


def test_slices_by_metadata_field() -> None:
    metadata = [{"area": "billing"}, {"area": "billing"}, {"area": "shipping"}, {}, {"area": "billing"}, None]
    scores = [1.0, 0.0, 1.0, 1.0, 1.0, None]
    groups = slice_values(metadata, "area")
    assert groups == ["billing", "billing", "shipping", MISSING, "billing", MISSING]
    results = {r.value: r for r in slice_results(scores, groups, "area", kind="binary")}
    billing = results["billing"].interval
    assert billing.estimate == pytest.approx(2 / 3) and billing.n == 3
    assert (billing.low, billing.high) == pytest.approx(proportion_confint(2, 3, method="wilson"), abs=1e-9)
    assert results[MISSING].interval.n == 1
    assert [r.value for r in slice_results(scores, groups, "area", kind="binary", min_size=2)] == ["billing"]
    with pytest.raises(ValueError):
        slice_results([1.0], [], "area")
