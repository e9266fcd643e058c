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


def test_periods_are_each_tested_against_their_own_weights_and_combined_by_bonferroni() -> None:
    from harness.stats.srm import srm_check_periods

    periods = [([900, 110], [0.5, 0.05]), ([5050, 4950], [0.5, 0.5]), ([0, 0], [0.1, 0.1])]
    combined, each = srm_check_periods(periods)
    refs = [stats.chisquare([900, 110], [1010 * 0.5 / 0.55, 1010 * 0.05 / 0.55]), stats.chisquare([5050, 4950])]
    assert [r.p_value for r in each[:2]] == pytest.approx([t.pvalue for t in refs], rel=1e-12)
    assert each[2].error == "no_units"  # skipped, not counted in the correction
    worst = min(refs, key=lambda t: t.pvalue)
    assert combined.p_value == pytest.approx(min(1.0, 2 * worst.pvalue), rel=1e-12)
    assert combined.chi2 == pytest.approx(worst.statistic, rel=1e-12)
    # one period is the plain check
    one, _ = srm_check_periods([([5120, 4880, 2010], [0.4, 0.4, 0.2])])
    assert one == srm_check([5120, 4880, 2010], [0.4, 0.4, 0.2])


def test_a_period_with_a_zero_weight_variant() -> None:
    from harness.stats.srm import srm_check_periods

    # a variant at weight 0 in a period is left out of that period's test ...
    combined, _ = srm_check_periods([([500, 480, 0], [0.5, 0.5, 0.0])])
    assert combined.p_value == pytest.approx(stats.chisquare([500, 480]).pvalue, rel=1e-12)
    # ... and units on it cannot come from the assignment: a mismatch
    combined, _ = srm_check_periods([([500, 480, 3], [0.5, 0.5, 0.0])])
    assert combined.flag and combined.p_value == 0.0
