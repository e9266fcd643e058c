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
