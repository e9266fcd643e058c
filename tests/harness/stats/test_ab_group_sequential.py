"""Group-sequential A/B analysis by simulation (issue 17): 14 daily looks at a planned experiment.

The question of the issue: p = 0.30 vs 0.3257 with 5,000 units per arm, which a fixed-horizon test
detects 80% of the time (the reference is statsmodels' power, not this code). Each simulated experiment
is a path of per-look sufficient statistics (cumulative successes and units per arm, vectorised numpy);
every method reads the same paths in one run:

- group-sequential: reject at the first look whose ``|z|`` passes the Lan-DeMets boundary of
  :func:`harness.stats.group_sequential.boundaries` at the looks' information fractions;
- always-valid: the normal-mixture confidence sequence of :mod:`harness.stats.sequential`, tuned for
  the planned 10,000 units (as ``harness ab plan`` advises);
- naive: a fixed-horizon test at every look (the peeking the boundary exists to prevent);
- fixed horizon: one test at the planned end.

``test_vectorised_rules_are_the_codes_rules`` ties the vectorised rules to the code's per-comparison
functions (``compare_at_boundary``, ``compare_arms_sequential``, ``compare_arms``) on a few paths.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.ab.group_sequential import compare_at_boundary, crossed
from harness.stats.effects import compare_arms, proportion_estimate
from harness.stats.group_sequential import boundaries
from harness.stats.sequential import SequentialConfig, compare_arms_sequential, mixture_constant

P_CONTROL, P_TREATMENT, UNITS_PER_ARM, LOOKS, ALPHA = 0.30, 0.3257, 5000, 14, 0.05
Z_FIXED = 1.959963984540054
#: cumulative units per arm at each daily look (equal daily traffic, rounded to whole units)
CUMULATIVE = np.round(np.linspace(0, UNITS_PER_ARM, LOOKS + 1)[1:]).astype(int)
FRACTIONS = tuple(CUMULATIVE / UNITS_PER_ARM)


def _paths(n_sims: int, p_treatment: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative successes of control and treatment at each look, shape (n_sims, LOOKS), and the units."""
    rng = np.random.default_rng(seed)
    daily = np.diff(np.r_[0, CUMULATIVE])
    control = rng.binomial(daily, P_CONTROL, size=(n_sims, LOOKS)).cumsum(axis=1)
    treatment = rng.binomial(daily, p_treatment, size=(n_sims, LOOKS)).cumsum(axis=1)
    return control, treatment, CUMULATIVE


def _z(control: np.ndarray, treatment: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The z statistic of the difference with the unpooled (Wald) variance, as ``proportion_estimate`` has."""
    pc, pt = control / n, treatment / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return (pt - pc) / np.sqrt(pc * (1 - pc) / n + pt * (1 - pt) / n)


def _always_valid_reject(z: np.ndarray, n: np.ndarray, tuning_units: float) -> np.ndarray:
    """Mixture-SPRT rejection (p = 1 / Lambda < alpha) at each look, vectorised from :mod:`harness.stats.sequential`."""
    r = 2 * n * mixture_constant(ALPHA) / tuning_units  # tau2 / V with n units per arm
    log_lambda = -0.5 * np.log1p(r) + r / (1 + r) * z**2 / 2
    return log_lambda > -math.log(ALPHA)


def _rates(n_sims: int, p_treatment: float, seed: int, spending: str = "obrien-fleming") -> dict[str, float]:
    """Share of the simulated experiments each method rejects H0 in (at any look, or at the end for fixed)."""
    z = _z(*_paths(n_sims, p_treatment, seed))
    bound = np.asarray(boundaries(FRACTIONS, ALPHA, spending).z)  # type: ignore[arg-type]
    return {
        "group_sequential": float((np.abs(z) > bound).any(axis=1).mean()),
        "always_valid": float(_always_valid_reject(z, CUMULATIVE, 2 * UNITS_PER_ARM).any(axis=1).mean()),
        "naive": float((np.abs(z) > Z_FIXED).any(axis=1).mean()),
        "fixed": float((np.abs(z[:, -1]) > Z_FIXED).mean()),
    }


def _reference_power() -> float:
    """Fixed-horizon power of the issue's example from statsmodels (Cohen's h, normal approximation)."""
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    h = proportion_effectsize(P_TREATMENT, P_CONTROL)
    return float(NormalIndPower().power(effect_size=h, nobs1=UNITS_PER_ARM, alpha=ALPHA, ratio=1.0))


def _se(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n)


def test_reference_power_is_the_issues_80_percent() -> None:
    assert _reference_power() == pytest.approx(0.80, abs=0.01)


def test_aa_false_positives_with_14_daily_looks() -> None:
    """5,000 A/A experiments looked at daily: the boundary holds alpha, naive peeking does not."""
    n = 5000
    rates = _rates(n, P_CONTROL, seed=17)
    tolerance = 2 * _se(ALPHA, n)  # simulation error of a rate that is exactly alpha
    assert rates["group_sequential"] <= ALPHA + tolerance, rates
    assert rates["group_sequential"] >= ALPHA - 3 * tolerance, rates  # it spends its alpha: not a dead test
    assert rates["always_valid"] <= ALPHA, rates
    assert rates["fixed"] == pytest.approx(ALPHA, abs=tolerance), rates
    assert rates["naive"] > 2.5 * ALPHA, rates  # repeated fixed-horizon tests: inflated false positives
    pocock = _rates(n, P_CONTROL, seed=18, spending="pocock")
    assert pocock["group_sequential"] <= ALPHA + tolerance, pocock


def test_power_at_the_planned_end() -> None:
    """With the effect the fixed test detects 80% of the time, daily looks keep >= 95% of that power."""
    n = 5000
    reference = _reference_power()
    rates = _rates(n, P_TREATMENT, seed=19)
    assert rates["fixed"] == pytest.approx(reference, abs=3 * _se(reference, n)), rates  # the simulator is right
    assert rates["group_sequential"] >= 0.95 * reference, (rates, reference)
    # the point of the issue: the always-valid default loses far more power at the planned sample
    assert rates["always_valid"] < rates["group_sequential"] - 0.15, rates


def test_single_final_look_is_the_fixed_horizon_test() -> None:
    """One look at the planned sample: the boundary is z_{1 - alpha/2} and the power that of the fixed test."""
    bound = boundaries([1.0], ALPHA)
    assert bound.z[0] == pytest.approx(Z_FIXED, abs=1e-6) and bound.alpha_spent[0] == pytest.approx(ALPHA)
    n = 5000
    z = _z(*_paths(n, P_TREATMENT, seed=20))[:, -1]
    power = float((np.abs(z) > bound.z[0]).mean())
    assert power >= 0.95 * _reference_power(), power


def test_vectorised_rules_are_the_codes_rules() -> None:
    """On a few paths, every look: the vectorised rules decide as the analysis' own functions do."""
    control, treatment, n = _paths(4, P_TREATMENT * 1.03, seed=21)  # an effect that crosses on some paths
    z = _z(control, treatment, n)
    seq = SequentialConfig(tuning_units=2 * UNITS_PER_ARM)
    crossings = 0
    for i in range(control.shape[0]):
        for k in range(LOOKS):
            c, t = proportion_estimate(int(n[k]), control[i, k]), proportion_estimate(int(n[k]), treatment[i, k])
            bound = boundaries(FRACTIONS[: k + 1], ALPHA)
            effect = compare_at_boundary(c, t, bound)
            assert crossed(effect) == bool(abs(z[i, k]) > bound.z[-1])
            assert (effect.absolute.p_value < ALPHA) == crossed(effect)  # the repeated p-value agrees
            crossings += crossed(effect)
            always = compare_arms_sequential(c, t, alpha=ALPHA, config=seq).absolute.p_value < ALPHA
            assert always == bool(_always_valid_reject(z[i, k], n[k], 2 * UNITS_PER_ARM))
            assert (compare_arms(c, t, alpha=ALPHA).absolute.p_value < ALPHA) == bool(abs(z[i, k]) > Z_FIXED)
    assert 0 < crossings < 4 * LOOKS  # both outcomes were exercised


def test_error_rates_with_50000_experiments() -> None:
    """The same comparisons with 10x the experiments (under a second): tighter bounds on alpha and power."""
    n = 50_000
    aa = _rates(n, P_CONTROL, seed=31)
    assert aa["group_sequential"] == pytest.approx(ALPHA, abs=3 * _se(ALPHA, n)), aa
    assert aa["naive"] > 0.15, aa
    effect = _rates(n, P_TREATMENT, seed=32)
    reference = _reference_power()
    assert effect["group_sequential"] >= 0.95 * reference, (effect, reference)
    assert effect["fixed"] == pytest.approx(reference, abs=3 * _se(reference, n)), effect
