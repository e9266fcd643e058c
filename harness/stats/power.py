"""Power and sample size: the detectable effect for a size, and the size for an effect.

- Paired comparisons (two candidates on the same examples) are one-sample t-tests on the per-example
  differences: :func:`minimum_detectable_effect`, :func:`required_sample_size` (statsmodels
  ``TTestPower``). For 0/1 metrics the SD of the paired difference follows from the share of
  discordant examples (:func:`binary_diff_sd`).
- Two independent groups (two test sets, an A/B split): :func:`proportions_mde` (Cohen's h with
  ``NormalIndPower``) and :func:`plan_units`, the units per variant and days to detect a relative
  change of a proportion (Cohen's h) or a mean (two-sample t power, ``tt_ind_solve_power``), for any
  traffic split.
- :func:`sequential_inflation`: how many more units an always-valid confidence sequence
  (:mod:`harness.stats.sequential`) needs than a fixed-horizon test for the same power.

Bad inputs return a result carrying an ``error`` code instead of raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

NAN = float("nan")
#: Run an A/B test at least this many full days so every day of the week is seen.
MIN_DAYS = 7
#: The metric kinds :func:`plan_units` sizes (every A/B metric type plans as one of them).
PLAN_KINDS = ("proportion", "mean")


# --------------------------------------------------------------------------- shared formulas

def cohen_h(p1: float, p2: float) -> float:
    """Cohen's effect size for two proportions, ``2 asin sqrt(p1) - 2 asin sqrt(p2)`` (as statsmodels'
    ``proportion_effectsize``)."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


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


# --------------------------------------------------------------------------- paired test sets

@dataclass(frozen=True)
class PlanResult:
    """An effect (in metric units) and a number of examples at the given alpha and power."""

    effect: float
    n: float
    alpha: float
    power: float
    method: str
    error: str | None = None


def binary_diff_sd(discordant_rate: float, diff: float = 0.0) -> float:
    """SD of a paired 0/1 difference when a share ``discordant_rate`` of examples disagree."""
    return math.sqrt(max(0.0, discordant_rate - diff * diff))


def minimum_detectable_effect(n: int, sd_diff: float, alpha: float = 0.05, power: float = 0.8,
                              alternative: str = "two-sided") -> PlanResult:
    """Smallest mean paired difference detectable with ``n`` examples (metric units)."""
    if n < 2 or sd_diff <= 0 or not 0 < alpha < 1 or not 0 < power < 1:
        return PlanResult(NAN, n, alpha, power, "paired_t", "invalid_input")
    from statsmodels.stats.power import TTestPower

    d = float(TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power, alternative=alternative))
    return PlanResult(d * sd_diff, n, alpha, power, "paired_t")


def required_sample_size(effect: float, sd_diff: float, alpha: float = 0.05, power: float = 0.8,
                         alternative: str = "two-sided") -> PlanResult:
    """Examples needed to detect a mean paired difference ``effect`` (rounded up)."""
    if effect == 0 or sd_diff <= 0 or not 0 < alpha < 1 or not 0 < power < 1:
        return PlanResult(effect, NAN, alpha, power, "paired_t", "invalid_input")
    from statsmodels.stats.power import TTestPower

    n = float(TTestPower().solve_power(effect_size=abs(effect) / sd_diff, nobs=None, alpha=alpha, power=power,
                                       alternative=alternative))
    return PlanResult(effect, math.ceil(n), alpha, power, "paired_t")


# --------------------------------------------------------------------------- independent groups

def proportions_mde(n_per_group: int, p_base: float, alpha: float = 0.05, power: float = 0.8) -> PlanResult:
    """Smallest increase over ``p_base`` detectable with two independent groups of ``n_per_group``."""
    if n_per_group < 2 or not 0 < p_base < 1:
        return PlanResult(NAN, n_per_group, alpha, power, "cohen_h", "invalid_input")
    from statsmodels.stats.power import NormalIndPower

    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=n_per_group, alpha=alpha, power=power, ratio=1.0))
    angle = h + cohen_h(p_base, 0.0)  # invert cohen_h(p, p_base) = h for p
    if angle >= math.pi:
        return PlanResult(NAN, n_per_group, alpha, power, "cohen_h", "not_detectable")
    return PlanResult(math.sin(angle / 2) ** 2 - p_base, n_per_group, alpha, power, "cohen_h")


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
        return replace(empty, error="control_not_in_weights")
    if mde == 0 or not math.isfinite(mde):
        return replace(empty, error="zero_mde")
    if metric_type == "proportion":
        if not (0 < baseline < 1 and 0 < target < 1):
            return replace(empty, error="proportion_out_of_range")
        effect = cohen_h(target, baseline)
    else:
        if not sd or sd <= 0:
            return replace(empty, error="missing_sd")
        effect = baseline * mde / sd
    if effect == 0 or not math.isfinite(effect):  # a zero baseline mean: a relative change of it is nothing
        return replace(empty, error="zero_effect")
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
        if not math.isfinite(n1) or n1 <= 0:
            return replace(empty, error="no_solution")
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


# --------------------------------------------------------------------------- sequential tests

def sequential_inflation(fixed_units: float, *, alpha: float, power: float, tuning_units: float) -> float:
    """Return how many times more units the confidence sequence needs than a fixed-horizon test for equal power.

    A fixed test detects ``delta = (z_{a/2} + z_b) se(n)``; the sequence needs
    ``delta = (c(n) + z_b) se(n)`` with ``c(n) = sqrt((1+r)/r (log(1+r) - 2 log a))`` and
    ``r = tau2 / V = n c0 / N*`` (see :mod:`harness.stats.sequential`); solved by fixed-point iteration.
    """
    from scipy.stats import norm

    from harness.stats.sequential import half_width, mixture_constant

    zb = norm.isf(1 - power)
    c0 = mixture_constant(alpha)
    fixed = norm.isf(alpha / 2) + zb
    n = fixed_units
    for _ in range(50):
        c = half_width(1.0, n * c0 / tuning_units, alpha)  # in SEs
        n_new = fixed_units * ((c + zb) / fixed) ** 2
        if abs(n_new - n) < 0.5:
            break
        n = n_new
    return n / fixed_units
