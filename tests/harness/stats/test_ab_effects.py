"""A/B effects against scipy and statsmodels references (to 1e-9 where they compute the same thing)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats.effects import (
    ArmEstimate,
    compare_arms,
    mean_estimate,
    proportion_estimate,
    ratio_estimate,
    two_proportion_ztest,
)


def _sums(x: np.ndarray) -> tuple[int, float, float]:
    return len(x), float(x.sum()), float((x**2).sum())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(0, 1, 300)
    b = rng.lognormal(0.1, 1.2, 450)
    result = compare_arms(mean_estimate(*_sums(a)), mean_estimate(*_sums(b)))
    ref = stats.ttest_ind_from_stats(b.mean(), b.std(ddof=1), len(b), a.mean(), a.std(ddof=1), len(a),
                                     equal_var=False)
    assert result.absolute.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert result.absolute.estimate / result.absolute.se == pytest.approx(ref.statistic, abs=1e-9)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert result.absolute.ci[0] == pytest.approx(ci.low, abs=1e-9)
    assert result.absolute.ci[1] == pytest.approx(ci.high, abs=1e-9)


def test_unpooled_proportion_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    c, t = proportion_estimate(2000, 610), proportion_estimate(2100, 700)
    result = compare_arms(c, t)
    ref = test_proportions_2indep(700, 2100, 610, 2000, method="wald", compare="diff", correction=False)
    assert result.absolute.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    low, high = confint_proportions_2indep(700, 2100, 610, 2000, method="wald", compare="diff", correction=False)
    assert result.absolute.ci == pytest.approx((low, high), abs=1e-9)


def test_pooled_ztest_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportions_ztest

    z, p = two_proportion_ztest((610, 700), (2000, 2100))
    ref_z, ref_p = proportions_ztest([700, 610], [2100, 2000])
    assert z == pytest.approx(ref_z, abs=1e-9)
    assert p == pytest.approx(ref_p, abs=1e-9)


def test_relative_delta_method_formula() -> None:
    c, t = ArmEstimate(1000, 2.0, 0.01), ArmEstimate(1000, 2.2, 0.012)
    rel = compare_arms(c, t).relative
    assert rel.estimate == pytest.approx(0.1)
    # Var(mt/mc) ~ vt/mc^2 + mt^2 vc / mc^4
    assert rel.se == pytest.approx(math.sqrt(0.012 / 4 + 2.2**2 * 0.01 / 16), rel=1e-12)
    z = rel.estimate / rel.se
    assert rel.p_value == pytest.approx(2 * stats.norm.sf(z), abs=1e-12)


def test_ratio_of_constant_denominator_is_the_mean() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(5, 2, 400)
    r = ratio_estimate(400, x.sum(), 400.0, float(x @ x), 400.0, x.sum())
    m = mean_estimate(*_sums(x))
    assert r.mean == pytest.approx(m.mean)
    assert r.var_mean == pytest.approx(m.var_mean, rel=1e-9)


def test_ratio_delta_matches_regression_formula() -> None:
    # Var(R) ~ var(x - R y) / (n mu_y^2): the linearisation of the ratio estimator
    rng = np.random.default_rng(4)
    y = rng.poisson(3, 500) + 1.0
    x = y * rng.normal(1.5, 0.3, 500)
    r = ratio_estimate(500, x.sum(), y.sum(), x @ x, y @ y, x @ y)
    resid = x - r.mean * y
    assert r.var_mean == pytest.approx(resid.var(ddof=1) / (500 * y.mean() ** 2), rel=1e-9)


@pytest.mark.parametrize("control,treatment,code", [
    (ArmEstimate(1, 1.0, 0.1), ArmEstimate(10, 1.0, 0.1), "too_few_units"),
    (ArmEstimate(10, 1.0, 0.0), ArmEstimate(10, 1.0, 0.0), "zero_variance"),
    (ArmEstimate(10, math.nan, 0.1), ArmEstimate(10, 1.0, 0.1), "undefined_estimate"),
])
def test_guards_return_neutral_results(control: ArmEstimate, treatment: ArmEstimate, code: str) -> None:
    result = compare_arms(control, treatment)
    assert result.error == code
    assert math.isnan(result.absolute.p_value)


def test_zero_control_mean_keeps_absolute() -> None:
    result = compare_arms(proportion_estimate(100, 0), proportion_estimate(100, 5))
    assert result.error == "zero_control_mean"
    assert result.absolute.estimate == pytest.approx(0.05)
    assert math.isnan(result.relative.estimate)
