"""Intervals against scipy/statsmodels, guards, and coverage by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from harness.stats.intervals import (
    bca_interval,
    mean_interval,
    t_interval,
    t_interval_from_stats,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 10), (10, 10), (37, 120), (999, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: int, n: int, confidence: float) -> None:
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    got = wilson_interval(k, n, confidence)
    assert (got.low, got.high) == pytest.approx((low, high), abs=1e-9)
    assert got.estimate == k / n and got.error is None


def test_t_interval_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x = rng.beta(2, 5, size=57)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    got = t_interval(x)
    assert (got.low, got.high) == pytest.approx((low, high), abs=1e-9)
    from_stats = t_interval_from_stats(len(x), float(x.sum()), float((x * x).sum()))
    assert (from_stats.low, from_stats.high) == pytest.approx((low, high), abs=1e-9)


def test_bca_matches_scipy_bootstrap() -> None:
    rng = np.random.default_rng(1)
    x = rng.beta(5, 2, size=80)
    want = stats.bootstrap((x,), np.mean, confidence_level=0.95, n_resamples=2000, method="BCa",
                           rng=np.random.default_rng(7)).confidence_interval
    got = bca_interval(x, n_resamples=2000, seed=7)
    assert (got.low, got.high) == pytest.approx((want.low, want.high), abs=1e-9)
    assert got.low < x.mean() < got.high


def test_guards_return_error_codes() -> None:
    assert wilson_interval(0, 0).error == "no_data"
    assert t_interval([0.5]).error == "too_few_units" and math.isnan(t_interval([0.5]).low)
    flat = t_interval([0.3] * 5)
    assert flat.error == "zero_variance" and (flat.low, flat.high) == (0.3, 0.3)
    assert bca_interval([]).error == "no_data"
    assert mean_interval([0.5, 0.2], kind="binary").error == "not_binary"
    assert mean_interval([None, None]).error == "no_data"


def test_mean_interval_auto_and_bounds() -> None:
    binary = mean_interval([1, 0, 1, None, 1], kind="binary")
    assert binary.method == "wilson" and binary.n == 4 and binary.estimate == 0.75
    assert (binary.low, binary.high) == pytest.approx(proportion_confint(3, 4, method="wilson"), abs=1e-9)
    clipped = mean_interval([0.0, 1.0, 1.0], bounds=(0.0, 1.0))
    # the t interval 2/3 +- t(0.975, 2) * sem = (-0.77, 2.10) is clipped to the metric's range
    low, high = stats.t.interval(0.95, 2, loc=2 / 3, scale=stats.sem([0.0, 1.0, 1.0]))
    assert low < 0.0 and high > 1.0
    assert clipped.method == "t" and (clipped.low, clipped.estimate, clipped.high) == pytest.approx((0.0, 2 / 3, 1.0))
    assert mean_interval([0.1, 0.4], method="bca").error == "too_few_units"
    bca = mean_interval([0.1, 0.4, 0.3, 0.9], method="bca")
    want = bca_interval([0.1, 0.4, 0.3, 0.9])
    assert bca.method == "bca" and (bca.low, bca.high) == (want.low, want.high) and bca.estimate == pytest.approx(0.425)


def test_wilson_coverage_by_simulation() -> None:
    rng = np.random.default_rng(2)
    for p, n in ((0.1, 40), (0.5, 30), (0.85, 100)):
        successes = rng.binomial(n, p, size=2000)
        covered = [(iv := wilson_interval(int(k), n)).low <= p <= iv.high for k in successes]
        assert 0.92 <= np.mean(covered) <= 0.98, (p, n, np.mean(covered))


def test_t_coverage_by_simulation() -> None:
    rng = np.random.default_rng(3)
    a, b, n = 2.0, 3.0, 50
    samples = rng.beta(a, b, size=(2000, n))
    covered = [(iv := t_interval(row)).low <= a / (a + b) <= iv.high for row in samples]
    assert 0.935 <= np.mean(covered) <= 0.965
