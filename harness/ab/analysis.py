"""Analyse an experiment: SRM, per-metric effects (fixed or sequential, CUPED), corrections, guardrails.

:func:`analyze` takes :class:`~harness.ab.sums.ExperimentData` (from the store, a file or a summary)
and an :class:`~harness.ab.config.AnalysisConfig` and returns a frozen :class:`AnalysisResult`
whose :meth:`AnalysisResult.to_dict` is the ``--json`` contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.ab.config import AnalysisConfig, MetricSpec
from harness.ab.group_sequential import (
    GsLook,
    GsResult,
    adjusted_p_value,
    compare_at_boundary,
    crossed,
    look_boundary,
)
from harness.ab.metric_types import metric_types
from harness.ab.sums import DataQuality, ExperimentData
from harness.errors import DataError
from harness.io import json_safe
from harness.stats.bayes import chance_to_beat_control
from harness.stats.effects import ArmEstimate, EffectResult, compare_arms
from harness.stats.multiple import adjust_p_values
from harness.stats.sequential import SequentialConfig, compare_arms_sequential
from harness.stats.srm import SrmResult, srm_check, srm_check_periods

_CONTROL_NAMES = ("control", "a", "base", "baseline")


@dataclass(frozen=True)
class MetricResult:
    """One metric compared between one treatment and the control."""

    spec: MetricSpec
    control: str
    treatment: str
    arms: dict[str, ArmEstimate]
    effect: EffectResult
    adjusted_p_value: float
    significant: bool
    chance_to_beat_control: float
    guardrail: str | None = None  # pass | inconclusive | harmed (guardrails only)
    cuped_theta: float | None = None

    @property
    def improved(self) -> bool:
        """Significant and in the good direction."""
        return self.significant and (self.effect.absolute.estimate > 0) == self.spec.higher_is_better

    @property
    def worsened(self) -> bool:
        """Significant and in the bad direction."""
        return self.significant and (self.effect.absolute.estimate > 0) != self.spec.higher_is_better

    def to_dict(self) -> dict:
        """The metric's entry of the ``--json`` output (NaN written as ``None``)."""
        out = {
            "name": self.spec.name,
            "type": self.spec.type,
            "role": self.spec.role,
            "higher_is_better": self.spec.higher_is_better,
            "control": self.control,
            "treatment": self.treatment,
            "variants": {v: {"n": a.n, "mean": a.mean, "se": a.se} for v, a in self.arms.items()},
            "absolute": self.effect.absolute.to_dict(),
            "relative": self.effect.relative.to_dict(),
            "adjusted_p_value": self.adjusted_p_value,
            "significant": self.significant,
            "method": self.effect.method,
            "chance_to_beat_control": self.chance_to_beat_control,
            "error": self.effect.error,
        }
        if self.spec.role == "guardrail":
            out["guardrail"] = {"status": self.guardrail, "margin": self.spec.margin}
        if self.cuped_theta is not None:
            out["cuped_theta"] = self.cuped_theta
        return json_safe(out)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``harness ab analyze`` reports (before the decision)."""

    source: str
    control: str
    variants: dict[str, int]
    weights: dict[str, float]
    srm: SrmResult
    metrics: list[MetricResult]
    config: AnalysisConfig
    days: float | None = None
    units_per_day: float | None = None
    notes: list[str] = field(default_factory=list)
    group_sequential: GsResult | None = None
    method_reason: str = ""
    data_quality: DataQuality | None = None  # an events file's unusable rows and columns

    @property
    def method(self) -> str:
        """``group_sequential`` under a plan, else ``sequential`` (always-valid) or ``fixed``."""
        if self.group_sequential is not None:
            return "group_sequential"
        return "sequential" if self.config.sequential else "fixed"

    def primary(self) -> list[MetricResult]:
        """The primary metric's results (one per treatment)."""
        name = self.config.primary_metric()
        return [m for m in self.metrics if m.spec.name == name]

    def to_dict(self) -> dict:
        """The ``--json`` object, without the decision (added by the caller); NaN written as ``None``."""
        return json_safe({
            "source": self.source,
            "control": self.control,
            "units": self.variants,
            "weights": self.weights,
            "days": self.days,
            "units_per_day": self.units_per_day,
            "srm": {"p_value": self.srm.p_value, "flag": self.srm.flag, "chi2": self.srm.chi2,
                    "observed": dict(zip(self.variants, self.srm.observed, strict=False)),
                    "expected": dict(zip(self.variants, self.srm.expected, strict=False))},
            "alpha": self.config.alpha,
            "correction": self.config.correction,
            "method": self.method,
            "method_reason": self.method_reason,
            "group_sequential": self.group_sequential.to_dict() if self.group_sequential else None,
            "primary_metric": self.config.primary_metric(),
            "metrics": [m.to_dict() for m in self.metrics],
            "notes": self.notes,
            "data_quality": self.data_quality.to_dict() if self.data_quality else None,
        })


def choose_control(variants: list[str], config: AnalysisConfig, source: str) -> str:
    """Return the control variant: the configured one (must exist), else a conventional name, else the first."""
    if config.control is not None:
        if config.control not in variants:
            raise DataError(f"unknown control variant {config.control!r}: {source} has variants "
                            f"{', '.join(map(repr, variants))}", hint="pass --control with one of those names")
        return config.control
    for name in variants:
        if name.lower() in _CONTROL_NAMES:
            return name
    if config.weights:
        for name in config.weights:
            if name in variants:
                return name
    return sorted(variants)[0]


def resolve_weights(variants: list[str], config: AnalysisConfig) -> dict[str, float]:
    """Return normalised weights for every variant (equal when not configured)."""
    if not config.weights:
        return {v: 1.0 / len(variants) for v in variants}
    missing = [v for v in variants if v not in config.weights]
    extra = [v for v in config.weights if v not in variants]
    if missing or extra:
        what = f"variant {missing[0]!r} has no weight" if missing else f"weight for unknown variant {extra[0]!r}"
        raise DataError(f"{what}; variants are {', '.join(map(repr, variants))}",
                        hint="give --weights one NAME=WEIGHT per variant")
    total = sum(config.weights[v] for v in variants)
    return {v: config.weights[v] / total for v in variants}


def arm_estimates(spec: MetricSpec, inputs: dict[str, object], cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
    """Turn each variant's sums into an :class:`ArmEstimate` (CUPED-adjusted when asked and available)."""
    return spec.metric_type.estimates(spec, inputs, cuped)


def guardrail_status(spec: MetricSpec, effect: EffectResult, control_mean: float) -> str:
    """Return ``pass`` (non-inferior within the margin), ``harmed`` (worse beyond the margin) or ``inconclusive``.

    Works on the relative change (margins are relative, e.g. 0.05 = 5% worse): harm = change in the bad
    direction. ``harmed`` when the whole interval of harm lies above the margin (margin 0: a
    significant deterioration); ``pass`` when the whole interval lies below it. With a control mean of
    0 (a rate the control never shows, such as fallbacks) any significant harm is ``harmed``.
    """
    rel = effect.relative
    lo, hi = rel.ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        a = effect.absolute
        if math.isfinite(a.ci[0]) and control_mean == 0:  # e.g. a fallback rate the control never shows:
            harm_lo, harm_hi = a.ci if not spec.higher_is_better else (-a.ci[1], -a.ci[0])  # any harm is
            return "harmed" if harm_lo > 0 else "pass" if harm_hi <= 0 else "inconclusive"  # beyond a margin
        if not (math.isfinite(a.ci[0]) and control_mean):
            return "inconclusive"
        lo, hi = a.ci[0] / abs(control_mean), a.ci[1] / abs(control_mean)
    harm_lo, harm_hi = (lo, hi) if not spec.higher_is_better else (-hi, -lo)
    if harm_lo > spec.margin:
        return "harmed"
    if harm_hi < spec.margin:
        return "pass"
    return "inconclusive"


def analyze(data: ExperimentData, config: AnalysisConfig, look: GsLook | None = None,
            method_reason: str | None = None) -> AnalysisResult:
    """Return the SRM check and every metric's effect for every treatment against the control.

    With a ``look`` (a planned horizon, :mod:`harness.ab.group_sequential`) the primary metric's
    comparisons are read at the group-sequential boundary of that look and left out of the
    correction across metrics; the other metrics keep ``config``'s method. ``method_reason`` says
    why the method was chosen (a default sentence when ``None``).
    """
    variants = list(data.units)
    if len(variants) < 2:
        found = f"only variant {variants[0]!r}" if variants else "no variants"
        raise DataError(f"{data.source}: {found} found; an A/B analysis needs at least two",
                        hint="check the variant column / the experiment name", exit_code=1)
    config = config.resolved(data.source)
    control = choose_control(variants, config, data.source)
    weights = resolve_weights(variants, config)
    srm, srm_notes = _srm(data, variants, weights, config)
    treatments = [v for v in variants if v != control]
    seq = SequentialConfig(config.tuning_units) if config.sequential else None
    gs = _gs_result(look, config, len(treatments)) if look is not None else None
    notes: list[str] = [*srm_notes, *(look.notes if look is not None else [])]
    raw: list[tuple[MetricSpec, str, dict[str, ArmEstimate], EffectResult, float | None]] = []
    for spec in config.metrics:
        cuped = bool(config.cuped_covariate) and spec.metric_type.supports_cuped
        arms, theta = arm_estimates(spec, data.metrics[spec.name], cuped)
        if cuped and theta is None:
            notes.append(f"{spec.name}: no covariate variance, CUPED not applied")
        for t in treatments:
            c_arm, t_arm = arms[control], arms[t]
            if gs is not None and spec.name == gs.metric:
                effect = compare_at_boundary(c_arm, t_arm, gs.boundary)
            elif seq:
                effect = compare_arms_sequential(c_arm, t_arm, alpha=config.alpha, config=seq)
            else:
                effect = compare_arms(c_arm, t_arm, alpha=config.alpha)
            raw.append((spec, t, {control: c_arm, t: t_arm}, effect, theta))
    if config.cuped_covariate:
        skipped = [s.name for s in config.metrics if not s.metric_type.supports_cuped]
        if skipped:
            adjusted_types = [t.name for t in metric_types() if t.supports_cuped]
            notes.append(f"CUPED adjusts {_and(adjusted_types)} metrics; not applied to {', '.join(skipped)}")
    on_boundary = [gs is not None and r[0].name == gs.metric for r in raw]
    family = [r[3].absolute.p_value for r, b in zip(raw, on_boundary, strict=True) if not b]
    rest = iter(adjust_p_values(family, config.correction) if family else [])
    results = []
    for (spec, t, arms, effect, theta), boundary_metric in zip(raw, on_boundary, strict=True):
        if gs is not None and boundary_metric:
            significant = crossed(effect)
            p_adj = adjusted_p_value(effect.absolute.p_value, gs.comparisons, significant, gs.look.plan.alpha)
        else:
            p_adj = next(rest)
            significant = bool(math.isfinite(p_adj) and p_adj < config.alpha)
        ctbc = chance_to_beat_control(arms[control], arms[t], higher_is_better=spec.higher_is_better)
        status = guardrail_status(spec, effect, arms[control].mean) if spec.role == "guardrail" else None
        results.append(MetricResult(spec, control, t, arms, effect, p_adj, significant, ctbc, status, theta))
    if config.sequential:
        which = "" if gs is None else "other metrics: "
        notes.append(f"{which}always-valid intervals (normal-mixture confidence sequence tuned for "
                     f"{config.tuning_units:g} units): safe to look at any time")
    if gs is not None:
        reason = gs.reason()
        if gs.metric is None:
            notes.append("no primary metric: the group-sequential boundary applies to nothing")
        elif gs.comparisons > 1:
            notes.append(f"the boundary's alpha {gs.look.plan.alpha:g} is split between the {gs.comparisons} "
                         f"treatments of {gs.metric} (Bonferroni)")
        if config.alpha != gs.look.plan.alpha:
            notes.append(f"the plan's alpha {gs.look.plan.alpha:g} is used for {gs.metric}; alpha "
                         f"{config.alpha:g} for the other metrics")
    elif config.sequential:
        reason = "always-valid (no planned horizon: pass --planned-units or record a plan with harness ab plan " \
                 "--experiment for a group-sequential analysis)"
    else:
        reason = "fixed-horizon (asked for): valid only when analysed once, at the planned sample"
    return AnalysisResult(data.source, control, dict(data.units), weights, srm, results, config,
                          data.days, data.units_per_day, notes, gs, method_reason or reason, data.quality)


def _srm(data: ExperimentData, variants: list[str], weights: dict[str, float],
         config: AnalysisConfig) -> tuple[SrmResult, list[str]]:
    """The sample-ratio check and its notes: against the weights in force when the units were seen.

    When the weights changed during the experiment (``data.srm_periods``), each constant-weight period
    is tested against its own weights and the tests are combined (Bonferroni,
    :func:`harness.stats.srm.srm_check_periods`); testing all units against today's weights would
    flag a ramp-up as a mismatch. With recorded periods, the recorded weights win over ``config.weights``.
    """
    periods = data.srm_periods
    if not periods:
        return srm_check([data.units[v] for v in variants], [weights[v] for v in variants],
                         threshold=config.srm_threshold), []
    srm, each = srm_check_periods([([p.units.get(v, 0) for v in variants], [p.weights.get(v, 0.0) for v in variants])
                                   for p in periods], threshold=config.srm_threshold)
    parts = []
    for p, r in zip(periods, each, strict=True):
        split = ",".join(f"{v}={p.weights.get(v, 0.0):g}" for v in variants)
        parts.append(f"{p.label} ({split}): {sum(r.observed)} units" +
                     ("" if r.error else f", p = {r.p_value:.3g}"))
    return srm, [f"sample ratio checked within each of the {len(periods)} weight periods, against the weights "
                 f"in force (Bonferroni across periods): {'; '.join(parts)}"]


def _gs_result(look: GsLook, config: AnalysisConfig, comparisons: int) -> GsResult:
    """The boundary of ``look`` for the primary metric's ``comparisons`` (one per treatment)."""
    metric = config.primary_metric()
    return GsResult(look, look_boundary(look, comparisons), metric, comparisons,
                    "sequential" if config.sequential else "fixed")


def _and(words: list[str]) -> str:
    return " and ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} and {words[-1]}"
