"""Power and duration planning for A/B tests (statsmodels power solvers underneath).

Proportions use Cohen's h (``statsmodels.stats.proportion.proportion_effectsize``) with the normal
power of two independent samples; means use the standardised difference with the two-sample t-test
power (``tt_ind_solve_power``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

#: Run at least this many full days so every day of the week is seen.
MIN_DAYS = 7


@dataclass(frozen=True)
class PowerPlan:
    """Units needed to detect a relative ``mde`` on a metric, and how long that takes."""

    metric_type: str
    baseline: float
    mde: float
    effect_size: float
    alpha: float
    power: float
    units_per_variant: dict[str, int]
    total_units: int
    units_per_day: float | None = None
    days: int | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def normal_power(effect_size: float, nobs1: float, *, alpha: float = 0.05, ratio: float = 1.0) -> float:
    """Return the two-sided power of a two-sample z-test with ``nobs1`` and ``ratio * nobs1`` units.

    Written out (same formula as ``statsmodels NormalIndPower().power``) so planning code can evaluate
    it for many sizes cheaply: ``sf(z - d sqrt(n_eff)) + cdf(-z - d sqrt(n_eff))``.
    """
    from scipy.stats import norm

    n_eff = 1.0 / (1.0 / nobs1 + 1.0 / (nobs1 * ratio))
    crit = norm.isf(alpha / 2)
    shift = abs(effect_size) * math.sqrt(n_eff)
    return float(norm.sf(crit - shift) + norm.cdf(-crit - shift))


def plan_units(metric_type: Literal["proportion", "mean"], baseline: float, mde: float, *,
               sd: float | None = None, alpha: float = 0.05, power: float = 0.8,
               weights: dict[str, float] | None = None, control: str = "control",
               units_per_day: float | None = None) -> PowerPlan:
    """Return the units per variant (and days) to detect a relative change ``mde`` of ``baseline``.

    ``weights`` maps variant names to traffic shares (control first-class: every treatment is compared
    with it); the treatment needing the most units sets the duration. ``sd`` is required for means.
    Bad inputs return a plan with ``error`` set instead of raising.
    """
    weights = weights or {control: 0.5, "treatment": 0.5}
    target = baseline * (1 + mde)
    empty = PowerPlan(metric_type, baseline, mde, math.nan, alpha, power, {}, 0, units_per_day)
    if control not in weights or len(weights) < 2:
        return _with_error(empty, "control_not_in_weights")
    if mde == 0 or not math.isfinite(mde):
        return _with_error(empty, "zero_mde")
    if metric_type == "proportion":
        if not (0 < baseline < 1 and 0 < target < 1):
            return _with_error(empty, "proportion_out_of_range")
        from statsmodels.stats.proportion import proportion_effectsize

        effect = float(proportion_effectsize(target, baseline))
    else:
        if not sd or sd <= 0:
            return _with_error(empty, "missing_sd")
        effect = baseline * mde / sd
    from statsmodels.stats.power import NormalIndPower, tt_ind_solve_power

    total_w = sum(weights.values())
    per_variant: dict[str, int] = {}
    total_needed = 0.0
    for name, w in weights.items():
        if name == control:
            continue
        ratio = w / weights[control]
        if metric_type == "proportion":
            n1 = NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=ratio)
        else:
            n1 = tt_ind_solve_power(effect_size=effect, alpha=alpha, power=power, ratio=ratio)
        n1 = float(n1)
        per_variant[control] = max(per_variant.get(control, 0), math.ceil(n1))
        per_variant[name] = math.ceil(n1 * ratio)
        # traffic is split by weight, so the control's need fixes the total
        total_needed = max(total_needed, n1 * total_w / weights[control])
    total = math.ceil(total_needed)
    days = None
    warnings: list[str] = []
    if units_per_day and units_per_day > 0:
        raw_days = math.ceil(total / units_per_day)
        days = max(raw_days, MIN_DAYS)
        if raw_days < MIN_DAYS:
            warnings.append(f"enough units after {raw_days} day(s), but run at least {MIN_DAYS} full days "
                            "so every day of the week is covered (day-of-week effects)")
    return PowerPlan(metric_type, baseline, mde, effect, alpha, power, per_variant, total, units_per_day,
                     days, warnings)


def _with_error(plan: PowerPlan, code: str) -> PowerPlan:
    from dataclasses import replace

    return replace(plan, error=code)
