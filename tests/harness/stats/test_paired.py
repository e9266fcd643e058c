"""Paired tests against scipy/statsmodels, and false-positive rates by simulation (equal candidates)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from harness.stats.paired import (
    EXACT_BELOW,
    bootstrap_diff,
    mcnemar_p_values,
    mcnemar_test,
    paired_continuous_test,
    paired_test,
)

ALPHA = 0.05


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 0), (5, 9), (12, 12), (1, 23), (30, 10), (40, 61), (200, 170)])
def test_mcnemar_p_matches_statsmodels(b: int, c: int) -> None:
    table = [[10, b], [c, 7]]
    exact = b + c < EXACT_BELOW
    want = mcnemar(table, exact=exact, correction=False).pvalue if b + c else 1.0
    assert float(mcnemar_p_values(b, c)) == pytest.approx(want, abs=1e-9)


def test_mcnemar_test_counts_and_direction() -> None:
    a = [1] * 30 + [0] * 5 + [1] * 40 + [0] * 25
    b = [0] * 30 + [1] * 5 + [1] * 40 + [0] * 25
    result = mcnemar_test(a, b)
    assert dict(result.extra) == {"a_only": 30, "b_only": 5, "both": 40, "neither": 25}
    assert result.diff == pytest.approx(0.25) and result.test == "mcnemar_chi2"
    assert result.p_value == pytest.approx(mcnemar([[40, 30], [5, 25]], exact=False, correction=False).pvalue, abs=1e-9)
    # Agresti-Min: add 1/2 to each of the four cells (n + 2), then a Wald interval for p10 - p01
    p10, p01, n_adj = 30.5 / 102, 5.5 / 102, 102
    half = stats.norm.ppf(0.975) * np.sqrt((p10 + p01 - (p10 - p01) ** 2) / n_adj)
    assert (result.ci_low, result.ci_high) == pytest.approx((p10 - p01 - half, p10 - p01 + half), abs=1e-12)
    assert 0 < result.ci_low < 0.25 < result.ci_high
    small = mcnemar_test([1, 1, 1, 0], [0, 0, 1, 0])
    # two discordant pairs, both for A: exact two-sided binomial p = 2 * 0.5**2
    assert small.test == "mcnemar_exact" and small.p_value == pytest.approx(0.5, abs=1e-12)


def test_mcnemar_guards() -> None:
    assert mcnemar_test([1, 0], [1]).error == "length_mismatch"
    assert mcnemar_test([], []).error == "no_data"
    assert mcnemar_test([0.5, 1], [1, 0]).error == "not_binary"
    assert mcnemar_test([None, 1, 0], [1, None, 0]).n == 1


def test_continuous_matches_scipy_wilcoxon() -> None:
    rng = np.random.default_rng(0)
    a = rng.beta(5, 3, size=70)
    b = np.clip(a - rng.normal(0.03, 0.08, size=70), 0, 1)
    result = paired_continuous_test(a, b)
    assert result.p_value == pytest.approx(stats.wilcoxon(a, b).pvalue, abs=1e-9)
    d = a - b
    assert result.diff == pytest.approx(d.mean(), abs=1e-12)
    assert result.effect_size == pytest.approx(d.mean() / d.std(ddof=1), abs=1e-12)
    assert result.ci_low < d.mean() < result.ci_high
    # the bootstrap interval approaches the t interval of the differences
    t_low, t_high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert result.ci_low == pytest.approx(t_low, abs=0.01) and result.ci_high == pytest.approx(t_high, abs=0.01)


def test_continuous_guards() -> None:
    assert paired_continuous_test([0.2], [0.1]).error == "too_few_units"
    same = paired_continuous_test([0.2, 0.4, 0.5], [0.2, 0.4, 0.5])
    assert same.error == "no_difference" and same.p_value == 1.0
    assert paired_test([1, 0, 1], [1, 1, 0], kind="binary").test.startswith("mcnemar")


def test_bootstrap_p_value_detects_shift() -> None:
    rng = np.random.default_rng(4)
    shifted = rng.normal(0.1, 0.1, size=60)
    assert bootstrap_diff(shifted)[2] < 0.01
    centred = rng.normal(0.0, 0.1, size=60)
    assert bootstrap_diff(centred - centred.mean())[2] > 0.9


# ------------------------------------------------------------------------- false positives
def _binary_runs(sims: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two equally good candidates: per-example difficulty shared, outcomes independent given it."""
    rng = np.random.default_rng(seed)
    difficulty = rng.beta(2, 2, size=(sims, n))
    return (rng.random((sims, n)) < difficulty).astype(float), (rng.random((sims, n)) < difficulty).astype(float)


def _continuous_runs(sims: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    quality = rng.beta(4, 2, size=(sims, n))
    noise = rng.normal(0, 0.1, size=(2, sims, n))
    return np.clip(quality + noise[0], 0, 1), np.clip(quality + noise[1], 0, 1)


def _mcnemar_rate(sims: int, seed: int) -> float:
    a, b = _binary_runs(sims, 120, seed)
    p = mcnemar_p_values(((a == 1) & (b == 0)).sum(axis=1), ((a == 0) & (b == 1)).sum(axis=1))
    # spot-check that the vectorised p-values are what the per-run function returns
    for i in range(3):
        assert mcnemar_test(a[i], b[i]).p_value == pytest.approx(p[i], abs=1e-12)
    return float(np.mean(p < ALPHA))


def _wilcoxon_rate(sims: int, seed: int) -> float:
    a, b = _continuous_runs(sims, 60, seed)
    p = stats.wilcoxon(a, b, axis=1, zero_method="wilcox").pvalue
    for i in range(3):
        assert paired_continuous_test(a[i], b[i], n_resamples=200).p_value == pytest.approx(p[i], abs=1e-12)
    return float(np.mean(p < ALPHA))


def _bootstrap_rate(sims: int, seed: int, resamples: int = 1000, n: int = 60) -> float:
    a, b = _continuous_runs(sims, n, seed)
    d = a - b
    p = np.array([bootstrap_diff(row, n_resamples=resamples, seed=i)[2] for i, row in enumerate(d)])
    return float(np.mean(p < ALPHA))


def test_mcnemar_false_positive_rate() -> None:
    assert 0.038 <= _mcnemar_rate(2000, seed=10) <= 0.063


def test_wilcoxon_false_positive_rate() -> None:
    assert 0.038 <= _wilcoxon_rate(2000, seed=11) <= 0.063


def test_bootstrap_false_positive_rate_small() -> None:
    assert 0.02 <= _bootstrap_rate(400, seed=12, resamples=500) <= 0.09


@pytest.mark.slow
def test_bootstrap_false_positive_rate_full() -> None:
    assert 0.038 <= _bootstrap_rate(2000, seed=13, resamples=1000, n=100) <= 0.063



def test_difference_interval_coverage() -> None:
    rng = np.random.default_rng(21)
    # joint cells (both, A only, B only, neither) with a true difference P(A) - P(B) = 0.2 - 0.1
    cells = rng.choice(4, p=[0.5, 0.2, 0.1, 0.2], size=(1000, 100))
    a, b = np.isin(cells, (0, 1)).astype(float), np.isin(cells, (0, 2)).astype(float)
    covered = [(r := mcnemar_test(x, y)).ci_low <= 0.1 <= r.ci_high for x, y in zip(a, b, strict=True)]
    assert 0.93 <= np.mean(covered) <= 0.97
    # continuous: the paired bootstrap percentile interval of the mean difference
    d = rng.normal(0.05, 0.2, size=(300, 80))
    covered = [(lo <= 0.05 <= hi) for lo, hi, _p in (bootstrap_diff(row, n_resamples=500, seed=i) for i, row in enumerate(d))]
    assert 0.91 <= np.mean(covered) <= 0.98
