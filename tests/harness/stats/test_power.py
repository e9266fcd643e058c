"""Power and sample size (:mod:`harness.stats.power`): paired test-set planning checked with an independent
power computation (noncentral t) and by simulation; A/B planning against statsmodels and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats.power import (
    binary_diff_sd,
    minimum_detectable_effect,
    normal_power,
    plan_units,
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

# --------------------------------------------------------------------------- A/B planning


@pytest.mark.parametrize("d,n,ratio", [(0.1, 800, 1.0), (0.05, 3000, 2.0), (-0.2, 150, 0.5)])
def test_normal_power_matches_statsmodels(d: float, n: float, ratio: float) -> None:
    from statsmodels.stats.power import NormalIndPower

    ref = NormalIndPower().power(effect_size=d, nobs1=n, alpha=0.05, ratio=ratio)
    assert normal_power(d, n, ratio=ratio) == pytest.approx(ref, abs=1e-9)


def test_proportion_plan_matches_statsmodels_solver() -> None:
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    plan = plan_units("proportion", 0.30, 0.05, control="A", weights={"A": 0.5, "B": 0.5})
    h = proportion_effectsize(0.315, 0.30)
    n = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0)
    assert plan.effect_size == pytest.approx(h, abs=1e-12)
    assert plan.units_per_variant == {"A": int(np.ceil(n)), "B": int(np.ceil(n))}
    assert plan.total_units == int(np.ceil(2 * n))
    # the solved size reaches the target power
    assert normal_power(h, plan.units_per_variant["A"]) >= 0.8


def test_mean_plan_matches_tt_ind_solve_power_and_unequal_split() -> None:
    from statsmodels.stats.power import tt_ind_solve_power

    plan = plan_units("mean", 10.0, 0.02, sd=4.0, control="c", weights={"c": 0.25, "t": 0.75})
    n = tt_ind_solve_power(effect_size=0.2 / 4.0, alpha=0.05, power=0.8, ratio=3.0)
    assert plan.units_per_variant["c"] == int(np.ceil(n))
    assert plan.units_per_variant["t"] == int(np.ceil(3 * n))
    assert plan.total_units == int(np.ceil(4 * n))


def test_days_and_the_seven_day_warning() -> None:
    short = plan_units("proportion", 0.3, 0.2, units_per_day=5000)
    assert short.days == 7 and short.warnings and "7 full days" in short.warnings[0]
    long = plan_units("proportion", 0.3, 0.02, units_per_day=1000)
    assert long.days == int(np.ceil(long.total_units / 1000)) and not long.warnings


def test_bad_inputs_give_error_codes() -> None:
    assert plan_units("proportion", 1.2, 0.05).error == "proportion_out_of_range"
    assert plan_units("mean", 3.0, 0.05).error == "missing_sd"
    assert plan_units("proportion", 0.3, 0.0).error == "zero_mde"


def test_planned_size_has_the_power_in_simulation() -> None:
    plan = plan_units("proportion", 0.30, 0.10)
    n = plan.units_per_variant["control"]
    rng = np.random.default_rng(0)
    a = rng.binomial(n, 0.30, 4000) / n
    b = rng.binomial(n, 0.33, 4000) / n
    z = (b - a) / np.sqrt(a * (1 - a) / n + b * (1 - b) / n)
    assert 0.77 < np.mean(np.abs(z) > 1.959964) < 0.83


def test_cohen_h_is_statsmodels_proportion_effectsize() -> None:
    from statsmodels.stats.proportion import proportion_effectsize

    from harness.stats.power import cohen_h

    for p1, p2 in [(0.315, 0.30), (0.05, 0.5), (0.9, 0.1)]:
        assert cohen_h(p1, p2) == pytest.approx(proportion_effectsize(p1, p2), abs=1e-12)


def test_sequential_inflation_reaches_the_fixed_test_power() -> None:
    """At the inflated size, the confidence sequence's half-width equals the fixed test's at the base size."""
    from scipy.stats import norm

    from harness.stats.power import sequential_inflation
    from harness.stats.sequential import half_width, mixture_constant

    n_fixed, alpha, power = 4000.0, 0.05, 0.8
    factor = sequential_inflation(n_fixed, alpha=alpha, power=power, tuning_units=n_fixed)
    assert 1.2 < factor < 3.0
    n = n_fixed * factor  # detectable effect (in units of sigma sqrt(2)) must match: (c(n) + z_b) / sqrt(n)
    c = half_width(1.0, n * mixture_constant(alpha) / n_fixed, alpha)
    zb = norm.isf(1 - power)
    fixed = (norm.isf(alpha / 2) + zb) / math.sqrt(n_fixed)
    assert (c + zb) / math.sqrt(n) == pytest.approx(fixed, rel=2e-3)


def test_a_zero_baseline_mean_is_an_error_code_not_a_crash() -> None:
    # A guardrail with no spread or a zero mean (constant latency in a test, zero cost) used to reach
    # statsmodels with effect size 0 and crash on int(nan).
    assert plan_units("mean", 0.0, 0.05, sd=1.0).error == "zero_effect"
    assert plan_units("mean", 1.0, 0.05, sd=1e-300).error in ("zero_effect", "no_solution")
