"""Duration planning from stated or observed numbers (``harness ab plan``)."""

from __future__ import annotations

import math
from dataclasses import asdict, replace

from harness.ab.analysis import AnalysisResult
from harness.ab.config import AnalysisConfig
from harness.ab.decision import sequential_inflation
from harness.errors import DataError
from harness.stats.ab_power import PowerPlan, plan_units

_ERRORS = {
    "proportion_out_of_range": "a proportion baseline must be in (0, 1) and baseline * (1 + mde) too",
    "missing_sd": "a mean metric needs --sd (the standard deviation per unit) > 0",
    "zero_mde": "--mde must be a non-zero relative change, e.g. 0.05 for 5%",
    "control_not_in_weights": "the control variant must be one of --weights",
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
    factor = sequential_inflation(p.total_units, replace(config, tuning_units=p.total_units))
    out["total_units_sequential"] = math.ceil(p.total_units * factor)
    out["tuning_units"] = p.total_units
    if units_per_day:
        out["days_sequential"] = max(math.ceil(out["total_units_sequential"] / units_per_day), config.min_days)
    return p, out


def observed_inputs(result: AnalysisResult) -> tuple[str, float, float | None, float | None]:
    """From an analysis, return (type, baseline, sd, units per day) of the primary metric's control arm."""
    primary = result.primary()
    if not primary:
        raise DataError("no primary metric to plan for", hint="pass --primary NAME")
    m = primary[0]
    arm = m.arms[m.control]
    # ratio and quantile metrics plan as means with their per-unit (delta-method) SD, so clustering counts
    kind = "proportion" if m.spec.type == "proportion" else "mean"
    sd = math.sqrt(arm.var_mean * arm.n) if kind == "mean" else None
    return kind, arm.mean, sd, result.units_per_day
