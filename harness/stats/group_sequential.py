"""Group-sequential boundaries: look at a planned experiment several times and keep the total alpha.

Lan & DeMets (1983, "Discrete sequential boundaries for clinical trials") spend the two-sided alpha
over the information fraction ``t`` (units so far / planned units) with a spending function:

    O'Brien-Fleming-like:  alpha(t) = 4 - 4 Phi(z_{1-alpha/4} / sqrt(t))
                           (each side spends alpha/2 by 2 - 2 Phi(z_{1-(alpha/2)/2} / sqrt(t)), the
                           form of R's gsDesign ``sfLDOF`` and ``ldbounds`` for a symmetric two-sided test)
    Pocock-like:           alpha(t) = alpha * ln(1 + (e - 1) t)

At look ``k`` the critical ``|z|`` is the ``c_k`` such that, under H0, the probability of crossing
for the first time at look ``k`` equals ``alpha(t_k) - alpha(t_{k-1})``. The z statistics of the
looks follow the canonical joint distribution (Jennison & Turnbull 2000, "Group Sequential Methods
with Applications to Clinical Trials", ch. 3): ``Z_k ~ N(0, 1)`` with ``corr(Z_i, Z_j) = sqrt(t_i / t_j)``,
i.e. ``Z_k sqrt(t_k)`` has independent Gaussian increments of variance ``t_k - t_{k-1}``. We integrate
that recursion numerically (Armitage, McPherson & Rowe 1969; Jennison & Turnbull ch. 19): carry the
sub-density of ``Z_k`` on the continuation region ``(-c_k, c_k)`` on a grid, one convolution per look.

The p-value is the *repeated p-value* (Jennison & Turnbull section 9.3): the smallest alpha at which
the boundary of this look, with the same spending function and looks, would be crossed. It is the
p-value dual to the repeated confidence interval ``estimate +- c_k se``: ``p < alpha`` exactly when
the interval excludes zero, at any look, which is the agreement the A/B output promises.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from numpy import ndarray

SpendingName = Literal["obrien-fleming", "pocock"]
SPENDING_FUNCTIONS: tuple[str, ...] = ("obrien-fleming", "pocock")

# Grid of the recursive integration. The sub-density of Z_k is integrated with Simpson's rule on a
# uniform grid over (-c_k, c_k). Its step is at most 0.05 and at most a sixth of the standard deviation
# of both Gaussian kernels it meets: the one it was built with (the sub-density's edges are that
# smooth) and the next look's (it is integrated against it). Against a 5x finer grid the boundaries
# move by less than 2e-6, even over 60 looks (checked in the tests). The step never goes below
# 18 / _MAX_POINTS, so looks closer than ~1e-4 in information fraction lose some accuracy. The grid stops
# at |z| = 10: under H0 each Z_k is N(0, 1), so the mass left out is ~1e-23; O'Brien-Fleming's first
# boundaries (which spend less than ~1e-15 and can be ~17) are only approximate, to ~1e-2, and no
# error rate depends on them.
_MAX_STEP = 0.05
_STEPS_PER_SD = 6.0
_Z_LIMIT = 10.0
_MAX_POINTS = 4001
# Increments of spent alpha below this count as nothing: the boundary is infinite at that look.
_TINY_SPEND = 1e-300


@dataclass(frozen=True)
class Boundary:
    """Two-sided group-sequential boundary at the looks taken so far.

    ``z[k]`` is the critical ``|z|`` at look ``k`` (``inf`` when no alpha is left to spend there),
    ``nominal_alpha[k] = 2 (1 - Phi(z[k]))`` the fixed-sample p-value threshold it amounts to, and
    ``alpha_spent[k]`` the cumulative alpha spent up to look ``k``. When a guard fails the tuples are
    empty (``fractions`` keeps what was given) and ``error`` names the problem.
    """

    fractions: tuple[float, ...]
    z: tuple[float, ...]
    nominal_alpha: tuple[float, ...]
    alpha_spent: tuple[float, ...]
    alpha: float
    spending: str
    error: str | None = None


def alpha_spent(t: float | Sequence[float], alpha: float = 0.05,
                spending: SpendingName = "obrien-fleming") -> ndarray:
    """Return the cumulative two-sided alpha spent at information fraction(s) ``t`` (a numpy array).

    Fractions are clipped to ``[0, 1]``: nothing is spent at ``t <= 0`` and all of ``alpha`` at
    ``t >= 1``. Raises ``ValueError`` for an unknown spending function (the caller's bug, not data).
    """
    import numpy as np
    from scipy.stats import norm

    frac = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "obrien-fleming":
        # Each side spends alpha / 2 with Lan-DeMets' 2 - 2 Phi(z_{1-a/2} / sqrt(t)) at a = alpha / 2, as
        # in R's gsDesign (sfLDOF) and ldbounds; this gives the published 4.877, 3.357, 2.680, 2.290, 2.031.
        z_side = norm.isf(alpha / 4)
        with np.errstate(divide="ignore"):
            spent = 4 * norm.sf(z_side / np.sqrt(frac))
    elif spending == "pocock":
        spent = alpha * np.log1p((math.e - 1) * frac)
    else:
        raise ValueError(f"unknown spending function {spending!r}; use one of {SPENDING_FUNCTIONS}")
    return np.where(frac >= 1.0, alpha, spent)


def _guard(fractions: Sequence[float], alpha: float, spending: str) -> str | None:
    """Return an error code when the inputs cannot define a boundary, else ``None``."""
    if spending not in SPENDING_FUNCTIONS:
        return "unknown_spending"
    if not 0 < alpha < 1:  # also false for nan
        return "alpha_out_of_range"
    if len(fractions) == 0:
        return "no_looks"
    if not all(math.isfinite(f) and f > 0 for f in fractions):
        return "fractions_not_positive"
    if any(b <= a for a, b in zip(fractions, fractions[1:], strict=False)):
        return "fractions_not_increasing"
    return None


def boundaries(fractions: Sequence[float], alpha: float = 0.05,
               spending: SpendingName = "obrien-fleming") -> Boundary:
    """Return the Lan-DeMets boundary (a :class:`Boundary`) at looks with information ``fractions``.

    ``fractions`` must be positive and strictly increasing. A fraction above 1 (the plan overran)
    spends as if it were 1, so the first look at or past the plan spends all that is left and any
    later one has nothing left (``z = inf``); the correlation between looks still uses the real
    information. ``z[k]`` depends only on the first ``k + 1`` fractions, so a boundary recomputed
    with one more look keeps the earlier looks' values. Bad inputs give an ``error`` code
    (``unknown_spending``, ``alpha_out_of_range``, ``no_looks``, ``fractions_not_positive``,
    ``fractions_not_increasing``) instead of raising.
    """
    try:
        level = float(alpha)
    except (TypeError, ValueError):
        level = math.nan
    try:
        given = tuple(float(f) for f in fractions)
    except (TypeError, ValueError):
        return Boundary((), (), (), (), level, str(spending), "fractions_not_positive")
    error = _guard(given, level, spending)
    if error:
        return Boundary(given, (), (), (), level, str(spending), error)
    return _boundaries_cached(given, level, spending)


@lru_cache(maxsize=512)
def _boundaries_cached(fractions: tuple[float, ...], alpha: float, spending: str) -> Boundary:
    """Compute :func:`boundaries` for validated inputs (cached: the result is immutable)."""
    from scipy.special import ndtr

    spent = [float(a) for a in alpha_spent(fractions, alpha, spending)]  # type: ignore[arg-type]
    z = _critical_values(fractions, spent)
    nominal = tuple(float(2 * ndtr(-c)) for c in z)
    return Boundary(fractions, tuple(z), nominal, tuple(spent), alpha, spending)


def _critical_values(fractions: Sequence[float], spent: Sequence[float]) -> list[float]:
    """Return ``c_k`` for each look by the recursive integration described in the module docstring."""
    from scipy.special import ndtri

    critical: list[float] = []
    state = None  # (grid, Simpson weight x sub-density) of Z_{k-1} on its continuation region
    previous_t = previous_spent = 0.0
    for k, (t, cumulative) in enumerate(zip(fractions, spent, strict=True)):
        target = cumulative - previous_spent
        if target <= _TINY_SPEND:
            c = math.inf
        elif state is None:
            c = float(-ndtri(target / 2))
        else:
            c = _solve_critical(state, previous_t, t, target)
        critical.append(c)
        if k + 1 < len(fractions):
            state = _next_state(state, previous_t, t, c, fractions[k + 1] - t)
        previous_t, previous_spent = t, cumulative
    return critical


def _crossing_probability(state, previous_t: float, t: float, c: float) -> float:
    """Return P(|Z_{k-1}| < c_{k-1} and |Z_k| >= c) under H0 from the previous look's ``state``.

    ``Z_k sqrt(t) = Z_{k-1} sqrt(t_prev) + N(0, t - t_prev)``, so from grid point ``u`` the crossing
    probability is ``Phi((-c sqrt(t) - u sqrt(t_prev)) / s) + Phi((-c sqrt(t) + u sqrt(t_prev)) / s)``.
    """
    from scipy.special import ndtr

    grid, mass = state
    s = math.sqrt(t - previous_t)
    shift = grid * (math.sqrt(previous_t) / s)
    edge = c * math.sqrt(t) / s
    return float(mass @ (ndtr(-edge - shift) + ndtr(-edge + shift)))


def _solve_critical(state, previous_t: float, t: float, target: float) -> float:
    """Return the ``c`` whose crossing probability at this look is ``target`` (solved on the log scale,
    since O'Brien-Fleming's first increments can be 1e-50)."""
    from scipy.optimize import brentq

    log_target = math.log(target)

    def gap(c: float) -> float:
        return math.log(max(_crossing_probability(state, previous_t, t, c), 1e-320)) - log_target

    if gap(0.0) <= 0:
        return 0.0  # even c = 0 spends less than allowed: any evidence crosses
    hi = 4.0
    while gap(hi) > 0:
        if hi > 64:
            return hi
        hi *= 2
    return float(brentq(gap, 0.0, hi, xtol=1e-10, rtol=1e-12))


def _next_state(state, previous_t: float, t: float, c: float, next_increment: float):
    """Return ``(grid, Simpson weight x sub-density)`` of ``Z_k`` on ``(-c, c)`` given look ``k - 1``'s.

    The new grid's step resolves both the kernel that smooths this sub-density's edges and the next
    look's kernel, which it will be integrated against (see the grid comment at the top).
    ``state is None`` means look ``k`` is the first: the sub-density is the standard normal's.
    """
    import numpy as np

    half = min(c, _Z_LIMIT)
    # sd, in Z_k units, of the kernel that built this sub-density (1 at the first look) and of the next
    kernel_sd = min(math.sqrt((t - previous_t) / t), math.sqrt(next_increment / t))
    step = max(min(_MAX_STEP, kernel_sd / _STEPS_PER_SD), 2 * _Z_LIMIT / (_MAX_POINTS - 1))
    n = max(2, 2 * math.ceil(half / step))  # an even number of intervals for Simpson's rule
    grid = np.linspace(-half, half, n + 1)
    weights = np.full(n + 1, 2.0)
    weights[1::2] = 4.0
    weights[0] = weights[-1] = 1.0
    weights *= (grid[1] - grid[0]) / 3
    if state is None:
        density = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    else:
        # density of Z_k at z: sum over u of mass(u) sqrt(t) / s phi((z sqrt(t) - u sqrt(t_prev)) / s),
        # built in row chunks so that a fine grid never needs one huge matrix.
        old_grid, old_mass = state
        s = math.sqrt(t - previous_t)
        scaled_old = old_grid * (math.sqrt(previous_t) / s)
        density = np.empty_like(grid)
        for start in range(0, len(grid), 1024):
            rows = grid[start:start + 1024, None] * (math.sqrt(t) / s) - scaled_old[None, :]
            density[start:start + 1024] = np.exp(-0.5 * rows**2) @ old_mass
        density *= math.sqrt(t) / s / math.sqrt(2 * math.pi)
    return grid, weights * density


def z_interval(estimate: float, se: float, z: float) -> tuple[float, float]:
    """Return the repeated confidence interval ``(estimate - z se, estimate + z se)`` at a look's boundary.

    With ``z = inf`` (no alpha left at this look) the interval is ``(-inf, inf)``; a nan input gives nans.
    """
    if not (math.isfinite(estimate) and math.isfinite(se) and se >= 0) or math.isnan(z):
        return (math.nan, math.nan)
    if math.isinf(z):
        return (-math.inf, math.inf)
    return (estimate - z * se, estimate + z * se)


def sequential_p_value(z_stats: Sequence[float], boundary: Boundary) -> float:
    """Return the repeated p-value of the latest look: the smallest alpha whose boundary it crosses.

    ``z_stats`` are the looks' z statistics in order; the last one is the look being analysed and
    ``boundary.fractions[:len(z_stats)]`` its looks (a boundary for the whole plan may be passed).
    The p-value is computed with the boundary's spending function over those looks, so it agrees
    with the boundary: ``p < boundary.alpha`` exactly when ``|z| > c`` at this look (equivalently,
    when the repeated confidence interval :func:`z_interval` excludes zero). With one look at
    fraction 1 it is the fixed-horizon p-value. Returns nan when the boundary has an error,
    ``z_stats`` is empty or longer than the looks, or the last z is nan.
    """
    from scipy.optimize import brentq
    from scipy.special import ndtr

    k = len(z_stats)
    if boundary.error or k == 0 or k > len(boundary.z) or not math.isfinite(float(z_stats[-1])):
        return math.nan
    observed = abs(float(z_stats[-1]))
    fractions = boundary.fractions[:k]

    def gap(log_level: float) -> float:
        """Return c_k(level) - |z|: decreasing in the level, zero at the p-value."""
        return _boundaries_cached(fractions, math.exp(log_level), boundary.spending).z[-1] - observed

    # Every look's boundary is at least the fixed-horizon one (it spends at most the level), so the
    # p-value is at least the fixed-horizon p-value: a tight lower end for the search.
    lo, hi = math.log(max(float(2 * ndtr(-observed)), 1e-300)), math.log1p(-1e-9)
    if lo >= hi or gap(hi) > 0:
        p = 1.0  # not crossed even when (nearly) all of alpha = 1 is spent
    elif gap(lo) <= 0:
        p = math.exp(lo)
    else:
        p = math.exp(brentq(gap, lo, hi, xtol=1e-7))
    # The search is accurate to ~1e-7 in log(p); pin the decision to the boundary itself so that the
    # p-value and the interval can never disagree at the edge.
    if observed > boundary.z[k - 1]:
        return min(p, math.nextafter(boundary.alpha, 0.0))
    return max(p, boundary.alpha)
