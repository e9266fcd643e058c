"""CUPED variance reduction (Deng, Xu, Kohavi & Walker 2013) over sufficient statistics.

Each unit's metric ``y`` is adjusted by a pre-experiment covariate ``x``:
``y_adj = y - theta (x - mean_x)`` with ``theta = cov(y, x) / var(x)`` pooled over all arms, so the
adjusted means stay unbiased for the effect and their variance shrinks by ``1 - corr(x, y)^2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from harness.stats.effects import ArmEstimate


@dataclass(frozen=True)
class CovariateSums:
    """One arm's sums for a metric ``y`` and covariate ``x``: n, sum/sum of squares of each, sum of x*y."""

    n: int
    sum_y: float
    sum_yy: float
    sum_x: float
    sum_xx: float
    sum_xy: float


def cuped_theta(arms: Mapping[str, CovariateSums]) -> float:
    """Return the pooled regression slope ``theta`` (within-arm covariance over within-arm variance)."""
    cov = var = 0.0
    for a in arms.values():
        if a.n < 2:
            continue
        mx, my = a.sum_x / a.n, a.sum_y / a.n
        cov += a.sum_xy - a.n * mx * my
        var += a.sum_xx - a.n * mx * mx
    return cov / var if var > 0 else 0.0


def cuped_estimates(arms: Mapping[str, CovariateSums]) -> tuple[dict[str, ArmEstimate], float]:
    """Return the CUPED-adjusted :class:`ArmEstimate` per arm and ``theta``.

    Adjusted mean ``ybar - theta (xbar - xbar_all)``; variance ``(s_y^2 - 2 theta s_xy + theta^2
    s_x^2) / n``, with ``n - 1`` degrees of freedom (Welch) like an ordinary mean.
    """
    theta = cuped_theta(arms)
    n_all = sum(a.n for a in arms.values())
    x_all = sum(a.sum_x for a in arms.values()) / n_all if n_all else math.nan
    out: dict[str, ArmEstimate] = {}
    for name, a in arms.items():
        if a.n < 2:
            out[name] = ArmEstimate(a.n, math.nan, math.nan, None)
            continue
        mx, my = a.sum_x / a.n, a.sum_y / a.n
        var_y = (a.sum_yy - a.n * my * my) / (a.n - 1)
        var_x = (a.sum_xx - a.n * mx * mx) / (a.n - 1)
        cov = (a.sum_xy - a.n * mx * my) / (a.n - 1)
        var_adj = max(var_y - 2 * theta * cov + theta * theta * var_x, 0.0)
        out[name] = ArmEstimate(a.n, my - theta * (mx - x_all), var_adj / a.n, a.n - 1)
    return out, theta


@dataclass(frozen=True)
class RatioCovariateSums:
    """One arm's sums for a ratio metric ``sum(y) / sum(x)`` over units and a unit covariate ``c``."""

    n: int
    sum_y: float
    sum_x: float
    sum_yy: float
    sum_xx: float
    sum_xy: float
    sum_c: float
    sum_cc: float
    sum_yc: float
    sum_xc: float


def _ratio_moments(a: RatioCovariateSums) -> tuple[float, float, float, float, float]:
    """Return (ratio, mean x, var of the linearised metric, cov(linearised, c), var c) for one arm.

    The ratio's influence function per unit is ``L = (y - R x) / mean_x`` (delta method), so CUPED on a
    ratio is CUPED on ``L`` (as GrowthBook and Deng et al. 2018 do for ratio metrics).
    """
    n = a.n
    my, mx, mc = a.sum_y / n, a.sum_x / n, a.sum_c / n
    r = my / mx
    var_y = (a.sum_yy - n * my * my) / (n - 1)
    var_x = (a.sum_xx - n * mx * mx) / (n - 1)
    cov_xy = (a.sum_xy - n * mx * my) / (n - 1)
    cov_yc = (a.sum_yc - n * my * mc) / (n - 1)
    cov_xc = (a.sum_xc - n * mx * mc) / (n - 1)
    var_c = (a.sum_cc - n * mc * mc) / (n - 1)
    var_l = (var_y - 2 * r * cov_xy + r * r * var_x) / (mx * mx)
    cov_lc = (cov_yc - r * cov_xc) / mx
    return r, mx, var_l, cov_lc, var_c


def cuped_ratio_estimates(arms: Mapping[str, RatioCovariateSums]) -> tuple[dict[str, ArmEstimate], float]:
    """Return CUPED-adjusted ratio estimates per arm and the pooled ``theta``.

    ``R_adj = R - theta (cbar - cbar_all)``, ``theta = sum cov(L, c) (n-1) / sum var(c) (n-1)`` pooled over
    arms, ``Var(R_adj) = (var L - 2 theta cov(L, c) + theta^2 var c) / n`` (normal reference). With a
    denominator of 1 per unit this is exactly :func:`cuped_estimates` on the mean.
    """
    ok = {k: a for k, a in arms.items() if a.n >= 2 and a.sum_x != 0}
    moments = {k: _ratio_moments(a) for k, a in ok.items()}
    cov = sum(m[3] * (ok[k].n - 1) for k, m in moments.items())
    var = sum(m[4] * (ok[k].n - 1) for k, m in moments.items())
    theta = cov / var if var > 0 else 0.0
    n_all = sum(a.n for a in arms.values())
    c_all = sum(a.sum_c for a in arms.values()) / n_all if n_all else math.nan
    out: dict[str, ArmEstimate] = {}
    for name, a in arms.items():
        if name not in moments:
            out[name] = ArmEstimate(a.n, math.nan, math.nan, None)
            continue
        r, _, var_l, cov_lc, var_c = moments[name]
        var_adj = max(var_l - 2 * theta * cov_lc + theta * theta * var_c, 0.0)
        out[name] = ArmEstimate(a.n, r - theta * (a.sum_c / a.n - c_all), var_adj / a.n, None)
    return out, theta
