"""Power planning against statsmodels and by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.ab_power import normal_power, plan_units


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
