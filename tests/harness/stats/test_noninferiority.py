"""Non-inferiority / TOST against scipy and statsmodels, and type-I error at the margin."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import ttost_paired

from harness.stats.noninferiority import equivalence_test, noninferiority_test


def _pair(seed: int, n: int = 150, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.beta(4, 3, size=n)
    return np.clip(base + shift + rng.normal(0, 0.05, size=n), 0, 1), base


def test_matches_scipy_one_sided_t() -> None:
    cand, base = _pair(0, shift=-0.005)
    result = noninferiority_test(cand, base, margin=0.02)
    d = cand - base
    want = stats.ttest_1samp(d + 0.02, 0.0, alternative="greater").pvalue
    assert result.p_value == pytest.approx(want, abs=1e-9)
    low, high = stats.t.interval(0.90, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=1e-9)
    assert result.passed == (low > -0.02)
    # the 90% interval's upper end is above -margin here, so it is never a FAIL
    assert high > -0.02 and result.status == ("PASS" if low > -0.02 else "INCONCLUSIVE")


def test_tost_matches_statsmodels() -> None:
    cand, base = _pair(1, shift=0.004)
    result = equivalence_test(cand, base, margin=0.03)
    want_p = ttost_paired(cand, base, -0.03, 0.03)[0]
    assert result.p_value == pytest.approx(want_p, abs=1e-9)
    assert result.passed


def test_clear_forgetting_fails_and_describe() -> None:
    cand, base = _pair(2, shift=-0.1)
    result = noninferiority_test(cand, base, margin=0.02)
    assert not result.passed and result.status == "FAIL"
    assert "FAIL" in result.describe("lora", "base", "rougeL") and "margin -0.020" in result.describe()


def test_guards() -> None:
    assert noninferiority_test([0.1, 0.2], [0.1], 0.02).error == "length_mismatch"
    assert noninferiority_test([0.1], [0.1], 0.02).error == "too_few_units"
    assert noninferiority_test([0.1, 0.2], [0.1, 0.2], -1).error == "negative_margin"
    flat = noninferiority_test([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 0.02)
    assert flat.error == "zero_variance" and flat.passed
    assert equivalence_test([0.1, 0.2], [0.1, 0.3], 0).error == "invalid_margin"
    assert noninferiority_test([None, 1.0, 0.0, 1.0], [1.0, None, 0.0, 1.0], 0.1).n == 2


def test_type_one_error_at_the_margin() -> None:
    rng = np.random.default_rng(5)
    margin, n, sims = 0.03, 80, 2000
    d = rng.normal(-margin, 0.1, size=(sims, n))  # true difference exactly at -margin: H0 holds
    se = d.std(axis=1, ddof=1) / np.sqrt(n)
    p = stats.t.sf((d.mean(axis=1) + margin) / se, n - 1)
    for i in range(3):
        assert noninferiority_test(d[i], np.zeros(n), margin).p_value == pytest.approx(p[i], abs=1e-12)
    assert 0.038 <= np.mean(p < 0.05) <= 0.063
