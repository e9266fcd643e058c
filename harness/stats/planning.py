"""Planning a test set: minimum detectable effect for a size, and the size for an effect.

Paired comparisons (two candidates on the same examples) are one-sample t-tests on the per-example
differences, so power comes from ``statsmodels.stats.power.TTestPower`` with the standardised effect
``effect / sd_diff``. For 0/1 metrics the SD of the paired difference follows from the expected share
of discordant examples (:func:`binary_diff_sd`). :func:`proportions_mde` covers two independent groups
(Cohen's h with ``NormalIndPower``), e.g. two test sets or an A/B split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

NAN = float("nan")


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


def proportions_mde(n_per_group: int, p_base: float, alpha: float = 0.05, power: float = 0.8) -> PlanResult:
    """Smallest increase over ``p_base`` detectable with two independent groups of ``n_per_group``."""
    if n_per_group < 2 or not 0 < p_base < 1:
        return PlanResult(NAN, n_per_group, alpha, power, "cohen_h", "invalid_input")
    from statsmodels.stats.power import NormalIndPower

    h = float(NormalIndPower().solve_power(effect_size=None, nobs1=n_per_group, alpha=alpha, power=power, ratio=1.0))
    angle = h + 2 * math.asin(math.sqrt(p_base))
    if angle >= math.pi:
        return PlanResult(NAN, n_per_group, alpha, power, "cohen_h", "not_detectable")
    return PlanResult(math.sin(angle / 2) ** 2 - p_base, n_per_group, alpha, power, "cohen_h")
