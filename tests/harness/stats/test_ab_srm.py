"""Sample-ratio mismatch against scipy's chi-square test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.stats.srm import srm_check


def test_matches_scipy_chisquare_with_weights() -> None:
    result = srm_check([5120, 4880, 2010], [0.4, 0.4, 0.2])
    total = 5120 + 4880 + 2010
    ref = stats.chisquare([5120, 4880, 2010], [total * 0.4, total * 0.4, total * 0.2])
    assert result.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert result.chi2 == pytest.approx(ref.statistic, abs=1e-9)
    # the statistic by hand: sum((o - e)^2 / e)
    assert result.chi2 == pytest.approx(sum((o - e) ** 2 / e for o, e in zip(result.observed, result.expected,
                                                                                strict=True)))


def test_flags_a_broken_split_and_not_a_fair_one() -> None:
    assert srm_check([5000, 4600]).flag
    assert not srm_check([5000, 4950]).flag
    # weights matter: 2:1 split is fine against 2:1 weights, a mismatch against 1:1
    assert not srm_check([6680, 3320], [2, 1]).flag
    assert srm_check([6680, 3320], [1, 1]).flag


def test_false_alarm_rate_is_about_the_threshold() -> None:
    rng = np.random.default_rng(0)
    counts = rng.multinomial(10_000, [0.5, 0.5], size=3000)
    flags = sum(srm_check(c).flag for c in counts)
    assert flags <= 12  # expected 3 at p < 0.001


def test_guards() -> None:
    assert srm_check([10]).error == "too_few_variants"
    assert srm_check([0, 0]).error == "no_units"
    assert srm_check([5, 5], [1, 0]).error == "bad_weights"
    assert not srm_check([0, 0]).flag
