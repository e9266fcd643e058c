"""A/A and peeking simulations: error rates and coverage of the A/B engine, not of its own numbers.

Each simulated experiment is reduced to sufficient statistics with numpy, then analysed by the real
public functions. The always-on versions are small; the ``slow`` ones use the sizes of the issue.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.stats.effects import compare_arms, mean_estimate, proportion_estimate, ratio_estimate
from harness.stats.sequential import SequentialConfig, compare_arms_sequential


def _proportion_pvalues(n_sims: int, seed: int, n: int = 2000, p: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = rng.binomial(n, p, size=(n_sims, 2))
    return np.array([compare_arms(proportion_estimate(n, a), proportion_estimate(n, b)).absolute.p_value
                     for a, b in k])


def _mean_results(n_sims: int, seed: int, n: int = 400, effect: float = 0.0):
    # skewed data (exponential), as revenue or latency are
    rng = np.random.default_rng(seed)
    a = rng.exponential(2.0, size=(n_sims, n))
    b = rng.exponential(2.0, size=(n_sims, n)) + effect
    sa, sb = a.sum(1), b.sum(1)
    qa, qb = (a * a).sum(1), (b * b).sum(1)
    return [compare_arms(mean_estimate(n, sa[i], qa[i]), mean_estimate(n, sb[i], qb[i])) for i in range(n_sims)]


def _coverage(results, truth: float, relative: bool = False) -> float:
    hits = [(r.relative if relative else r.absolute).ci[0] <= truth <= (r.relative if relative else r.absolute).ci[1]
            for r in results]
    return float(np.mean(hits))


def test_aa_false_positive_rate_small() -> None:
    assert 0.03 <= np.mean(_proportion_pvalues(1500, seed=1) < 0.05) <= 0.07
    assert 0.03 <= np.mean([r.absolute.p_value < 0.05 for r in _mean_results(1500, seed=2)]) <= 0.07


def test_interval_coverage_small() -> None:
    results = _mean_results(2000, seed=3, effect=0.3)
    assert 0.935 <= _coverage(results, 0.3) <= 0.965
    # relative truth: 0.3 / 2.0
    assert 0.93 <= _coverage(results, 0.15, relative=True) <= 0.97


@pytest.mark.slow
def test_aa_false_positive_rate_5000() -> None:
    fpr_prop = np.mean(_proportion_pvalues(5000, seed=11) < 0.05)
    fpr_mean = np.mean([r.absolute.p_value < 0.05 for r in _mean_results(5000, seed=12)])
    assert 0.042 <= fpr_prop <= 0.058, fpr_prop
    assert 0.042 <= fpr_mean <= 0.058, fpr_mean


@pytest.mark.slow
def test_interval_coverage_10000() -> None:
    results = _mean_results(10_000, seed=13, effect=0.3)
    assert 0.944 <= _coverage(results, 0.3) <= 0.956
    rng = np.random.default_rng(14)
    n = 3000
    k = np.column_stack([rng.binomial(n, 0.30, 10_000), rng.binomial(n, 0.33, 10_000)])
    props = [compare_arms(proportion_estimate(n, a), proportion_estimate(n, b)) for a, b in k]
    assert 0.944 <= _coverage(props, 0.03) <= 0.956


def test_ratio_metric_respects_unit_randomisation() -> None:
    """Requests within a user are correlated: the delta method covers, a per-request test would not."""
    rng = np.random.default_rng(5)
    n_sims, n_units = 1500, 300
    hits_delta = hits_naive = 0
    for _ in range(n_sims):
        arms = []
        naive = []
        for _arm in range(2):
            k = rng.poisson(4, n_units) + 1
            level = rng.normal(1.0, 0.5, n_units)  # per-user latency level
            per_request = np.repeat(level, k) + rng.normal(0, 0.2, k.sum())
            starts = np.r_[0, np.cumsum(k)[:-1]]
            x = np.add.reduceat(per_request, starts)
            y = k.astype(float)
            arms.append(ratio_estimate(n_units, x.sum(), y.sum(), x @ x, y @ y, x @ y))
            naive.append(mean_estimate(len(per_request), per_request.sum(), per_request @ per_request))
        lo, hi = compare_arms(arms[0], arms[1]).absolute.ci
        hits_delta += lo <= 0 <= hi
        lo, hi = compare_arms(naive[0], naive[1]).absolute.ci
        hits_naive += lo <= 0 <= hi
    assert 0.93 <= hits_delta / n_sims <= 0.97
    assert hits_naive / n_sims < 0.85


def _peeking(n_sims: int, seed: int, looks: int = 20, per_day: int = 150, p: float = 0.3) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    k = rng.binomial(per_day, p, size=(n_sims, looks, 2)).cumsum(axis=1)
    seq = SequentialConfig(tuning_units=2 * per_day * looks)
    naive_rejects = seq_rejects = 0
    for sim in range(n_sims):
        naive = sequential = False
        for day in range(looks):
            n = per_day * (day + 1)
            c, t = proportion_estimate(n, k[sim, day, 0]), proportion_estimate(n, k[sim, day, 1])
            naive = naive or compare_arms(c, t).absolute.p_value < 0.05
            sequential = sequential or compare_arms_sequential(c, t, config=seq).absolute.p_value < 0.05
        naive_rejects += naive
        seq_rejects += sequential
    return naive_rejects / n_sims, seq_rejects / n_sims


def test_peeking_small() -> None:
    naive, sequential = _peeking(600, seed=6)
    assert naive > 0.15
    assert sequential <= 0.05


@pytest.mark.slow
def test_peeking_20_daily_looks() -> None:
    naive, sequential = _peeking(5000, seed=16)
    assert naive > 0.18, naive
    assert sequential <= 0.05, sequential


def test_sequential_interval_is_wider_but_consistent() -> None:
    c, t = proportion_estimate(5000, 1500), proportion_estimate(5000, 1600)
    fixed, seq = compare_arms(c, t), compare_arms_sequential(c, t, config=SequentialConfig(10_000))
    assert seq.absolute.estimate == pytest.approx(fixed.absolute.estimate)
    assert seq.absolute.ci[0] < fixed.absolute.ci[0] and seq.absolute.ci[1] > fixed.absolute.ci[1]
    # p < alpha exactly when the always-valid interval excludes 0 (same boundary)
    assert (seq.absolute.p_value < 0.05) == (seq.absolute.ci[0] > 0)
