"""CUPED against an OLS regression (statsmodels) and chance-to-beat-control against a normal posterior."""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.bayes import chance_to_beat_control
from harness.stats.cuped import CovariateSums, cuped_estimates
from harness.stats.effects import ArmEstimate, compare_arms, mean_estimate


def _sums(y: np.ndarray, x: np.ndarray) -> CovariateSums:
    return CovariateSums(len(y), y.sum(), y @ y, x.sum(), x @ x, x @ y)


def test_cuped_effect_matches_ancova_and_shrinks_variance() -> None:
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(10, 3, 2 * n)
    arm = np.repeat([0, 1], n)
    y = 2 + 0.8 * x + 0.3 * arm + rng.normal(0, 1.5, 2 * n)
    est, theta = cuped_estimates({"c": _sums(y[:n], x[:n]), "t": _sums(y[n:], x[n:])})
    effect = compare_arms(est["c"], est["t"])
    # ANCOVA y ~ arm + (x - mean_x): same pooled-within slope, same treatment coefficient
    design = sm.add_constant(np.column_stack([arm, x - x.mean()]))
    fit = sm.OLS(y, design).fit()
    assert theta == pytest.approx(fit.params[2], rel=1e-9)
    assert effect.absolute.estimate == pytest.approx(fit.params[1], rel=1e-9)
    assert effect.absolute.se == pytest.approx(fit.bse[1], rel=0.01)
    plain = compare_arms(mean_estimate(n, y[:n].sum(), y[:n] @ y[:n]), mean_estimate(n, y[n:].sum(), y[n:] @ y[n:]))
    assert effect.absolute.se < 0.6 * plain.absolute.se  # 1 - corr^2 = 0.28 here


def test_chance_to_beat_control() -> None:
    from scipy.stats import norm

    c, t = ArmEstimate(100, 1.0, 0.01), ArmEstimate(100, 1.1, 0.02)
    p = chance_to_beat_control(c, t)
    assert p == pytest.approx(norm.cdf(0.1 / np.sqrt(0.03)), abs=1e-12)
    assert chance_to_beat_control(c, t, higher_is_better=False) == pytest.approx(1 - p)
    assert np.isnan(chance_to_beat_control(ArmEstimate(1, 1.0, 0.0), ArmEstimate(1, 1.0, 0.0)))
