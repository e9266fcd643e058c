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


def test_ratio_cuped_with_unit_denominator_is_mean_cuped() -> None:
    from harness.stats.cuped import RatioCovariateSums, cuped_ratio_estimates

    rng = np.random.default_rng(1)
    ratio, mean = {}, {}
    for arm in ("c", "t"):
        c = rng.normal(5, 1, 400)
        y = 0.7 * c + rng.normal(0, 1, 400)
        ratio[arm] = RatioCovariateSums(400, y.sum(), 400.0, y @ y, 400.0, y.sum(), c.sum(), c @ c, y @ c, c.sum())
        mean[arm] = _sums(y, c)
    r_est, r_theta = cuped_ratio_estimates(ratio)
    m_est, m_theta = cuped_estimates(mean)
    assert r_theta == pytest.approx(m_theta, rel=1e-12)
    for arm in ("c", "t"):
        assert r_est[arm].mean == pytest.approx(m_est[arm].mean, rel=1e-12)
        assert r_est[arm].var_mean == pytest.approx(m_est[arm].var_mean, rel=1e-9)


def test_ratio_cuped_covers_and_shrinks_in_simulation() -> None:
    """Clustered requests per user, a pre-period covariate: intervals keep ~95% coverage and get narrower."""
    from harness.stats.cuped import RatioCovariateSums, cuped_ratio_estimates
    from harness.stats.effects import ratio_estimate

    rng = np.random.default_rng(2)
    hits = 0
    widths_plain, widths_cuped = [], []
    sims, n = 800, 400
    for _ in range(sims):
        arms = {}
        plain = {}
        for arm in ("c", "t"):
            level = rng.normal(1.0, 0.5, n)
            covariate = level + rng.normal(0, 0.3, n)
            k = rng.poisson(3, n) + 1.0
            y = k * level + rng.normal(0, 0.5, n) * np.sqrt(k)
            arms[arm] = RatioCovariateSums(n, y.sum(), k.sum(), y @ y, k @ k, y @ k, covariate.sum(),
                                           covariate @ covariate, y @ covariate, k @ covariate)
            plain[arm] = ratio_estimate(n, y.sum(), k.sum(), y @ y, k @ k, y @ k)
        est, _ = cuped_ratio_estimates(arms)
        effect = compare_arms(est["c"], est["t"])
        hits += effect.absolute.ci[0] <= 0 <= effect.absolute.ci[1]
        widths_cuped.append(effect.absolute.se)
        widths_plain.append(compare_arms(plain["c"], plain["t"]).absolute.se)
    assert 0.93 <= hits / sims <= 0.97
    assert np.mean(widths_cuped) < 0.8 * np.mean(widths_plain)
