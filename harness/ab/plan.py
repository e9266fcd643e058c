"""Experiment-level planning: ``harness ab plan`` and the "days still needed" of a decision.

The sample-size math is :mod:`harness.stats.power`; this module picks its inputs (stated, or
observed on the primary metric's control arm) and adds the sequential-test sample and the days.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from harness.ab.analysis import AnalysisResult, MetricResult
from harness.ab.config import AnalysisConfig
from harness.ab.group_sequential import days_to_plan_end
from harness.errors import DataError
from harness.stats.power import PowerPlan, plan_units, sequential_inflation

_ERRORS = {
    "proportion_out_of_range": "a proportion baseline must be in (0, 1) and baseline * (1 + mde) too",
    "missing_sd": "a mean metric needs --sd (the standard deviation per unit) > 0",
    "zero_mde": "--mde must be a non-zero relative change, e.g. 0.05 for 5%",
    "control_not_in_weights": "the control variant must be one of --weights",
    "zero_effect": "a relative change of a zero baseline mean is zero: give a metric whose baseline is not 0",
    "no_solution": "no sample size reaches that power for this effect (check --mde, --sd and --power)",
}


def plan(metric_type: str, baseline: float, mde: float, *, sd: float | None = None,
         config: AnalysisConfig | None = None, units_per_day: float | None = None,
         weights: dict[str, float] | None = None, control: str = "control") -> tuple[PowerPlan, dict]:
    """Return the power plan and its JSON form (with the sequential-test sample size added)."""
    config = config or AnalysisConfig()
    p = plan_units(metric_type, baseline, mde, sd=sd, alpha=config.alpha, power=config.power,  # type: ignore[arg-type]
                   weights=weights, control=control, units_per_day=units_per_day)
    if p.error:
        raise DataError(f"cannot plan: {_ERRORS.get(p.error, p.error)}")
    out = asdict(p)
    # a confidence sequence tuned for the planned sample: analyse with --tuning-units total_units
    factor = sequential_inflation(p.total_units, alpha=config.alpha, power=config.power, tuning_units=p.total_units)
    out["total_units_sequential"] = math.ceil(p.total_units * factor)
    out["tuning_units"] = p.total_units
    if units_per_day:
        out["days_sequential"] = max(math.ceil(out["total_units_sequential"] / units_per_day), config.min_days)
    return p, out


def control_arm_inputs(m: MetricResult) -> tuple[str, float, float]:
    """Return (kind, baseline, per-unit SD) of ``m``'s control arm: the type's planning kind
    (``proportion`` or ``mean``), its estimate, and ``sqrt(var_mean * n)`` (ratio and quantile metrics
    plan as means with their delta-method per-unit SD, so clustering counts)."""
    arm = m.arms[m.control]
    return m.spec.metric_type.plan_as, arm.mean, math.sqrt(max(arm.var_mean, 0.0) * arm.n)


def observed_inputs(result: AnalysisResult) -> tuple[str, float, float | None, float | None]:
    """From an analysis, return (type, baseline, sd, units per day) of the primary metric's control arm."""
    primary = result.primary()
    if not primary:
        raise DataError("no primary metric to plan for", hint="pass --primary NAME")
    kind, baseline, sd = control_arm_inputs(primary[0])
    return kind, baseline, sd if kind == "mean" else None, result.units_per_day


def days_still_needed(result: AnalysisResult) -> float | None:
    """Days until the primary metric can detect the configured MDE at the observed traffic (None if unknown).

    Under a plan (a group-sequential analysis): days until the planned units are reached.
    """
    cfg = result.config
    if result.group_sequential is not None:  # under a plan: until the planned units are reached
        return days_to_plan_end(result.group_sequential, result.days, result.units_per_day, cfg.min_days)
    primary = result.primary()
    if not primary or not result.units_per_day:
        return None
    m = primary[0]
    c = m.arms[m.control]
    if not (c.n > 1 and math.isfinite(c.mean) and c.mean != 0 and c.var_mean > 0):
        return None
    weights = {m.control: result.weights[m.control]}
    for t in primary:
        weights[t.treatment] = result.weights[t.treatment]
    share = sum(weights.values())
    kind, baseline, sd = control_arm_inputs(m)
    if kind == "proportion" and 0 < baseline < 1:
        plan = plan_units("proportion", baseline, cfg.mde, alpha=cfg.alpha, power=cfg.power, weights=weights,
                          control=m.control)
    else:
        plan = plan_units("mean", abs(baseline), cfg.mde, sd=sd, alpha=cfg.alpha, power=cfg.power,
                          weights=weights, control=m.control)
    if plan.error:
        return None
    inflation = sequential_inflation(plan.total_units, alpha=cfg.alpha, power=cfg.power,
                                     tuning_units=cfg.tuning_units) if cfg.sequential else 1.0
    total_units = plan.total_units * inflation
    elapsed = result.days or 0.0
    # units arrive across all variants; only the compared ones count towards this plan
    total_days = total_units / (result.units_per_day * share)
    return max(0.0, math.ceil(max(total_days, cfg.min_days) - elapsed - 1e-9))
