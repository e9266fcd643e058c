"""Group-sequential boundaries against published tables, a reference implementation, scipy's
multivariate normal CDF and Monte Carlo of the canonical joint distribution (never the code's own numbers).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from scipy.stats import multivariate_normal, norm

import harness.stats.group_sequential as gs
from harness.stats.group_sequential import alpha_spent, boundaries, sequential_p_value, z_interval

EQUAL_5 = (0.2, 0.4, 0.6, 0.8, 1.0)

# Published Lan-DeMets O'Brien-Fleming-type bounds, K = 5 equally spaced, two-sided alpha 0.05 (each side
# 0.025): R gsDesign::gsDesign(k = 5, test.type = 2, alpha = 0.025, sfu = sfLDOF)$upper$bound and
# ldbounds::bounds(seq(.2, 1, .2), iuse = c(1, 1), alpha = c(.025, .025)). Confirmed independently here:
# a 10^6-path Monte Carlo of the canonical joint distribution crossed them with cumulative probability
# 0.00077, 0.00766, 0.02418, 0.04969 (alpha spent: 0.00079, 0.00762, 0.02442, 0.05), and scipy's
# multivariate normal CDF agrees to 1e-7 (test_crossing_probability_equals_alpha_spent).
PUBLISHED_OBF_K5 = (4.877, 3.357, 2.680, 2.290, 2.031)
# Lan-DeMets Pocock-type, same design (gsDesign sfLDPocock / ldbounds iuse = 2); same Monte Carlo:
# 0.01478, 0.02617, 0.03548, 0.04318, 0.04981 against 0.01477, 0.02616, 0.03543, 0.04324, 0.05.
PUBLISHED_POCOCK_K5 = (2.438, 2.427, 2.410, 2.397, 2.386)

# Reference bounds from spotify-confidence 4.1.0 (PyPI), whose sequential_bound_solver.bounds is a port of
# R ldbounds::landem with its own grid integration. It only ships the power spending family, so we
# replaced its `_alphas` with the Lan-DeMets O'Brien-Fleming / Pocock spending (per side alpha / 2) and
# called bounds(t, alpha=0.05, rho=1, ztrun=40, sides=2) in a throwaway venv (not a dependency). None
# marks a value where that port is itself off and is not used: its fixed h = 0.05 grid and ztrun
# truncation give 4.3297 at the second look of (0.1, 0.25, ...), where the earlier look spends ~1e-12 so
# the exact value is the marginal norm.isf(spent / 2) = 4.3326, and 40 / 4.7063 for the first three of
# 14 O'Brien-Fleming looks (marginal: 4.7026).
LDBOUNDS_PORT = {
    ((0.5, 1.0), "obrien-fleming"): (2.9626, 1.9686),
    ((0.5, 1.0), "pocock"): (2.1570, 2.2009),
    ((1 / 3, 2 / 3, 1.0), "obrien-fleming"): (3.7103, 2.5114, 1.9930),
    ((1 / 3, 2 / 3, 1.0), "pocock"): (2.2794, 2.2949, 2.2959),
    ((0.25, 0.5, 0.75, 1.0), "obrien-fleming"): (4.3326, 2.9631, 2.3590, 2.0141),
    ((0.25, 0.5, 0.75, 1.0), "pocock"): (2.3683, 2.3675, 2.3581, 2.3500),
    (EQUAL_5, "obrien-fleming"): (4.8769, 3.3569, 2.6803, 2.2898, 2.0310),
    (EQUAL_5, "pocock"): (2.4380, 2.4268, 2.4101, 2.3966, 2.3859),
    ((0.3, 0.7, 1.0), "obrien-fleming"): (3.9286, 2.4387, 2.0000),
    ((0.3, 0.7, 1.0), "pocock"): (2.3118, 2.2583, 2.3061),
    ((0.1, 0.25, 0.6, 1.0), "obrien-fleming"): (6.9913, None, 2.6689, 1.9810),
    ((0.1, 0.25, 0.6, 1.0), "pocock"): (2.6551, 2.5247, 2.3052, 2.2724),
    ((0.5, 0.9, 1.0), "obrien-fleming"): (2.9626, 2.1049, 2.0572),
    ((0.5, 0.9, 1.0), "pocock"): (2.1570, 2.2417, 2.3730),
    ((0.2, 0.45), "obrien-fleming"): (4.8769, 3.1438),
    ((0.2, 0.45), "pocock"): (2.4380, 2.3765),
    (tuple(i / 14 for i in range(1, 15)), "obrien-fleming"): (
        None, None, None, 4.0365, 3.5869, 3.2585, 3.0059, 2.8041, 2.6381, 2.4985, 2.3789, 2.2751, 2.1837, 2.1025),
    (tuple(i / 14 for i in range(1, 15)), "pocock"): (
        2.7595, 2.7227, 2.6840, 2.6517, 2.6249, 2.6026, 2.5837, 2.5675, 2.5534, 2.5410, 2.5300, 2.5202, 2.5113,
        2.5034),
}


def canonical_crossing(fractions, z) -> float:
    """P(|Z_k| >= z_k at some look) under H0, from scipy's multivariate normal CDF (Genz, not our grid)."""
    t = np.asarray(fractions, dtype=float)
    corr = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    upper = np.minimum(np.asarray(z, dtype=float), 40.0)
    mvn = multivariate_normal(np.zeros(len(t)), corr, abseps=1e-7, releps=0, maxpts=100_000 * len(t), seed=3)
    return float(1 - mvn.cdf(upper, lower_limit=-upper))


def simulate_first_crossings(fractions, z, n_paths: int, seed: int) -> np.ndarray:
    """Cumulative share of Brownian paths whose |Z| has crossed the boundary by each look (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(fractions, dtype=float)
    increments = np.diff(np.concatenate([[0.0], t]))
    score, alive, crossed = np.zeros(n_paths), np.ones(n_paths, dtype=bool), []
    for k in range(len(t)):
        score += rng.standard_normal(n_paths) * math.sqrt(increments[k])
        now = alive & (np.abs(score / math.sqrt(t[k])) >= z[k])
        crossed.append(now.mean())
        alive &= ~now
    return np.cumsum(crossed)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_single_look_is_the_fixed_horizon_test(spending):
    b = boundaries([1.0], spending=spending)
    assert b.error is None
    assert b.z[0] == pytest.approx(1.959964, abs=1e-6)
    assert b.nominal_alpha[0] == pytest.approx(0.05, abs=1e-12)
    assert b.alpha_spent == pytest.approx((0.05,))


@pytest.mark.parametrize(("spending", "published"), [("obrien-fleming", PUBLISHED_OBF_K5),
                                                      ("pocock", PUBLISHED_POCOCK_K5)])
def test_published_five_look_boundaries(spending, published):
    assert boundaries(EQUAL_5, alpha=0.05, spending=spending).z == pytest.approx(published, abs=1e-3)


@pytest.mark.parametrize(("fractions", "spending"), list(LDBOUNDS_PORT))
def test_matches_ldbounds_reference(fractions, spending):
    z = boundaries(fractions, spending=spending).z
    for look, expected in enumerate(LDBOUNDS_PORT[fractions, spending]):
        if expected is not None:
            assert z[look] == pytest.approx(expected, abs=1e-3), f"look {look + 1}"


@pytest.mark.parametrize(("fractions", "spending"), [
    (EQUAL_5, "obrien-fleming"), (EQUAL_5, "pocock"), ((0.1, 0.25, 0.6, 1.0), "obrien-fleming"),
    ((0.3, 0.7, 1.0), "pocock"), ((0.15, 0.5, 0.55, 0.8), "obrien-fleming"),
])
def test_crossing_probability_equals_alpha_spent(fractions, spending):
    b = boundaries(fractions, spending=spending)
    for k in range(1, len(fractions) + 1):
        assert canonical_crossing(fractions[:k], b.z[:k]) == pytest.approx(b.alpha_spent[k - 1], abs=2e-6)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_monte_carlo_crossing_per_look_equals_alpha_spent(spending):
    fractions = tuple(i / 14 for i in range(1, 15))
    b = boundaries(fractions, spending=spending)
    n = 400_000
    simulated = simulate_first_crossings(fractions, b.z, n, seed=17)
    spent = np.asarray(b.alpha_spent)
    se = np.sqrt(np.maximum(spent * (1 - spent), 1e-6) / n)
    assert np.all(np.abs(simulated - spent) < 4.5 * se), (simulated, spent)
    assert spent[-1] == pytest.approx(0.05)


def test_obrien_fleming_spends_late_and_pocock_early():
    obf, pocock = boundaries(EQUAL_5).z, boundaries(EQUAL_5, spending="pocock").z
    assert all(a > b for a, b in zip(obf, obf[1:], strict=False))
    assert obf[0] > 4.5 and obf[-1] < 2.05
    assert max(pocock) - min(pocock) < 0.06 and pocock[-1] > 2.35


@pytest.mark.parametrize("looks", [14, 60])
@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_many_looks_are_fast(looks, spending):
    boundaries([1.0])  # import scipy outside the timing
    gs._boundaries_cached.cache_clear()
    start = time.perf_counter()
    b = boundaries([i / looks for i in range(1, looks + 1)], spending=spending)
    assert time.perf_counter() - start < 1.0
    assert len(b.z) == looks and b.alpha_spent[-1] == pytest.approx(0.05)
    assert 1.96 < b.z[-1] < b.z[0]


def test_grid_is_converged_over_sixty_looks(monkeypatch):
    fractions = [i / 60 for i in range(1, 61)]
    default = boundaries(fractions, spending="pocock").z
    monkeypatch.setattr(gs, "_MAX_STEP", 0.015)  # a grid ~4x finer than the default
    monkeypatch.setattr(gs, "_STEPS_PER_SD", 24.0)
    gs._boundaries_cached.cache_clear()
    try:
        fine = boundaries(fractions, spending="pocock").z
    finally:
        gs._boundaries_cached.cache_clear()
    assert fine == pytest.approx(default, abs=1e-5)


def test_earlier_looks_keep_their_boundary_when_a_look_is_added():
    fractions = (0.07, 0.2, 0.33, 0.5, 0.71, 1.0)
    full = boundaries(fractions)
    for k in range(1, len(fractions)):
        assert boundaries(fractions[:k]).z == pytest.approx(full.z[:k], abs=1e-9)


def test_overrunning_the_plan_spends_what_is_left():
    b = boundaries([0.5, 1.25])
    assert b.alpha_spent == pytest.approx((alpha_spent(0.5)[()], 0.05))
    # the real information (1.25) sets the correlation: the crossing probability is still exactly alpha
    assert canonical_crossing([0.5, 1.25], b.z) == pytest.approx(0.05, abs=2e-6)
    later = boundaries([0.5, 1.0, 1.2])
    assert later.z[2] == math.inf and later.nominal_alpha[2] == 0.0
    assert later.z[:2] == pytest.approx(boundaries([0.5, 1.0]).z)


@pytest.mark.parametrize(("fractions", "alpha", "spending", "error"), [
    ([], 0.05, "obrien-fleming", "no_looks"),
    ([0.5, 0.4], 0.05, "obrien-fleming", "fractions_not_increasing"),
    ([0.5, 0.5, 1.0], 0.05, "pocock", "fractions_not_increasing"),
    ([0.0, 1.0], 0.05, "obrien-fleming", "fractions_not_positive"),
    ([float("nan"), 1.0], 0.05, "obrien-fleming", "fractions_not_positive"),
    ([0.5, 1.0], 0.0, "obrien-fleming", "alpha_out_of_range"),
    ([0.5, 1.0], 1.0, "pocock", "alpha_out_of_range"),
    ([0.5, 1.0], float("nan"), "pocock", "alpha_out_of_range"),
    ([0.5, 1.0], "0.05x", "pocock", "alpha_out_of_range"),
    (["half", 1.0], 0.05, "pocock", "fractions_not_positive"),
    ([0.5, 1.0], 0.05, "haybittle", "unknown_spending"),
])
def test_bad_inputs_give_an_error_code_not_an_exception(fractions, alpha, spending, error):
    b = boundaries(fractions, alpha=alpha, spending=spending)
    assert b.error == error
    assert b.z == () and b.alpha_spent == () and b.nominal_alpha == ()
    assert math.isnan(sequential_p_value([2.0], b))


def test_alpha_spent_follows_the_lan_demets_definitions():
    t = np.array([0.0, 0.25, 0.5, 1.0, 1.5])
    # each side: 2 - 2 Phi(z_{1 - 0.0125} / sqrt(t)); gsDesign's sfLDOF(0.025, 0.5) spends 0.001525 per side
    assert alpha_spent(t) == pytest.approx([0.0, 4 * norm.sf(norm.isf(0.0125) / 0.5), 0.00305, 0.05, 0.05],
                                           abs=1e-5)
    assert alpha_spent(t, spending="pocock") == pytest.approx(
        [0.0, 0.05 * math.log(1 + (math.e - 1) / 4), 0.05 * math.log((1 + math.e) / 2), 0.05, 0.05])
    assert alpha_spent(1.0, alpha=0.1) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="unknown spending"):
        alpha_spent(0.5, spending="haybittle")  # type: ignore[arg-type]


def test_single_look_p_value_is_the_fixed_horizon_p_value():
    b = boundaries([1.0])
    for z in (0.3, 1.5, 2.5, -3.1):
        assert sequential_p_value([z], b) == pytest.approx(2 * norm.sf(abs(z)), rel=1e-6)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
@pytest.mark.parametrize("look", [1, 3, 5])
def test_p_value_equals_the_level_whose_boundary_the_z_meets(spending, look):
    """The repeated p-value of z = c_k(0.01) is 0.01: an independent boundary at another alpha."""
    at_one_percent = boundaries(EQUAL_5, alpha=0.01, spending=spending).z[look - 1]
    b = boundaries(EQUAL_5, spending=spending)
    assert sequential_p_value([0.0] * (look - 1) + [at_one_percent], b) == pytest.approx(0.01, rel=1e-5)


@pytest.mark.parametrize("spending", ["obrien-fleming", "pocock"])
def test_p_value_is_significant_exactly_when_the_interval_excludes_zero(spending):
    fractions = (0.2, 0.5, 0.8, 1.0)
    b = boundaries(fractions, spending=spending)
    for look in range(1, len(fractions) + 1):
        c = b.z[look - 1]
        previous = math.inf
        for z in (0.0, 1.0, c - 1e-3, c + 1e-3, c + 0.5, -(c + 1e-3)):
            p = sequential_p_value([0.0] * (look - 1) + [z], b)
            lower, upper = z_interval(z * 0.1, 0.1, c)  # estimate z * se, se = 0.1
            assert (p < b.alpha) == (lower > 0 or upper < 0) == (abs(z) > c), (look, z, p)
            if z >= 0:
                assert p <= previous
                previous = p


def test_p_value_guards():
    b = boundaries(EQUAL_5)
    assert math.isnan(sequential_p_value([], b))
    assert math.isnan(sequential_p_value([1.0] * 6, b))
    assert math.isnan(sequential_p_value([float("nan")], b))
    assert sequential_p_value([0.0], b) == 1.0


def test_z_interval():
    assert z_interval(1.0, 0.5, 2.0) == (0.0, 2.0)
    assert z_interval(1.0, 0.5, math.inf) == (-math.inf, math.inf)
    assert all(math.isnan(x) for x in z_interval(float("nan"), 0.5, 2.0))
