"""Planning checked with an independent power computation (noncentral t) and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats.planning import (
    binary_diff_sd,
    minimum_detectable_effect,
    proportions_mde,
    required_sample_size,
)


def _power(effect: float, sd: float, n: int, alpha: float = 0.05) -> float:
    df, nc = n - 1, effect / sd * math.sqrt(n)
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


@pytest.mark.parametrize("n", [30, 200, 1000])
def test_mde_has_the_requested_power(n: int) -> None:
    plan = minimum_detectable_effect(n, sd_diff=0.2, power=0.8)
    # statsmodels solves for the effect numerically (tolerance ~1e-5 in power)
    assert _power(plan.effect, 0.2, n) == pytest.approx(0.8, abs=1e-4)


def test_required_size_is_the_smallest_with_power() -> None:
    plan = required_sample_size(0.03, sd_diff=0.15)
    assert _power(0.03, 0.15, plan.n) >= 0.8 > _power(0.03, 0.15, plan.n - 1)
    assert required_sample_size(0.0, 0.1).error == "invalid_input"
    assert minimum_detectable_effect(1, 0.1).error == "invalid_input"


def test_power_by_simulation() -> None:
    rng = np.random.default_rng(0)
    n, sd = 60, 0.2
    effect = minimum_detectable_effect(n, sd).effect
    d = rng.normal(effect, sd, size=(4000, n))
    p = stats.ttest_1samp(d, 0.0, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.8, abs=0.03)


def test_binary_sd_and_proportions() -> None:
    assert binary_diff_sd(0.2) == pytest.approx(math.sqrt(0.2))
    plan = proportions_mde(500, 0.6)
    h = 2 * math.asin(math.sqrt(0.6 + plan.effect)) - 2 * math.asin(math.sqrt(0.6))
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert h == pytest.approx(z * math.sqrt(2 / 500), rel=1e-3)
    assert proportions_mde(5, 0.999).error == "not_detectable"
