"""Rollout decision from an analysis: ``ship``, ``rollback`` or ``keep_running``, with the reasons.

Rules, in order (a risk-aware policy in the spirit of Spotify's decision framework):
1. A guardrail significantly harmed beyond its margin, or the primary metric significantly worse
   -> ``rollback``.
2. A sample-ratio mismatch -> never ship: the split is broken and no effect can be trusted
   (``keep_running`` after fixing the assignment, unless rule 1 already rolled back).
3. The primary metric significantly better and every guardrail non-inferior -> ``ship``, provided
   the experiment covered at least ``min_days`` full days (day-of-week effects).
4. Otherwise ``keep_running``, with an estimate of the days still needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.ab.analysis import AnalysisResult, MetricResult
from harness.ab.plan import days_still_needed


@dataclass(frozen=True)
class Decision:
    """The action and the human-readable reasons behind it."""

    action: str
    reasons: list[str]
    days_still_needed: float | None = None
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``decision`` entry of the ``--json`` output."""
        return {"action": self.action, "reasons": self.reasons, "days_still_needed": self.days_still_needed}


def _fmt_rel(m: MetricResult) -> str:
    rel = m.effect.relative
    if math.isfinite(rel.estimate):
        lo, hi = rel.ci
        return f"{rel.estimate:+.2%} (95% CI {lo:+.2%} to {hi:+.2%})"
    a = m.effect.absolute
    if not math.isfinite(a.estimate):  # e.g. no spread in either arm yet (a constant 0 fallback rate)
        return f"not computable yet ({m.effect.error or 'no data'})"
    return f"{a.estimate:+.4g} (95% CI {a.ci[0]:+.4g} to {a.ci[1]:+.4g})"


def decide(result: AnalysisResult) -> Decision:
    """Apply the rules above and return the :class:`Decision`."""
    cfg = result.config
    reasons: list[str] = []
    rollback: list[str] = []
    harmed = [m for m in result.metrics if m.spec.role == "guardrail" and m.guardrail == "harmed"]
    for m in harmed:
        rollback.append(f"guardrail {m.spec.name} harmed in {m.treatment}: {_fmt_rel(m)}, beyond the "
                        f"{m.spec.margin:.0%} margin")
    primary = result.primary()
    for m in primary:
        if m.worsened:
            rollback.append(f"primary metric {m.spec.name} significantly worse in {m.treatment}: {_fmt_rel(m)}")
    if result.srm.flag:
        reasons.append(f"sample ratio mismatch (chi-square p = {result.srm.p_value:.2g} < {cfg.srm_threshold}): "
                       f"observed {dict(zip(result.variants, result.srm.observed, strict=False))}; "
                       "the assignment or logging is broken, do not ship on these numbers")
    if rollback:
        return Decision("rollback", rollback + reasons)
    if result.srm.flag:
        return Decision("keep_running", reasons + ["fix the assignment, then restart the experiment"])

    wins = [m for m in primary if m.improved]
    not_ok = [m for m in result.metrics if m.spec.role == "guardrail" and m.guardrail != "pass"]
    days = result.days
    if wins and not not_ok:
        if days is not None and days + 1e-9 < cfg.min_days - 1:
            needed = math.ceil(cfg.min_days - days)
            return Decision("keep_running", [
                f"primary metric {wins[0].spec.name} is up {_fmt_rel(wins[0])}, but only {days:.1f} day(s) "
                f"observed; run at least {cfg.min_days} full days (day-of-week effects)"], needed)
        reasons = [f"primary metric {m.spec.name} improved in {m.treatment}: {_fmt_rel(m)}, adjusted p = "
                   f"{m.adjusted_p_value:.2g}" for m in wins]
        reasons.append("no guardrail harmed: " + ", ".join(
            f"{m.spec.name} {_fmt_rel(m)} within {m.spec.margin:.0%}" for m in result.metrics
            if m.spec.role == "guardrail") if any(m.spec.role == "guardrail" for m in result.metrics)
            else "no guardrails configured")
        return Decision("ship", reasons)

    if not primary:
        reasons.append("no primary metric: name one with --primary NAME (an outcome the feedback records)")
    for m in primary:
        if not m.improved:
            reasons.append(f"primary metric {m.spec.name} not significant yet in {m.treatment}: {_fmt_rel(m)}, "
                           f"adjusted p = {m.adjusted_p_value:.2g}" if math.isfinite(m.adjusted_p_value)
                           else f"primary metric {m.spec.name}: not computable ({m.effect.error})")
    for m in not_ok:
        reasons.append(f"guardrail {m.spec.name} not yet shown within its {m.spec.margin:.0%} margin: {_fmt_rel(m)}")
    needed = days_still_needed(result)
    if result.group_sequential is not None:
        reasons.append(_plan_progress(result, needed, bool(wins)))
    elif needed is not None and needed > 0:
        reasons.append(f"about {needed:g} more day(s) at the observed traffic to detect a {cfg.mde:.0%} change "
                       f"on {cfg.primary_metric()} with {cfg.power:.0%} power")
    elif needed == 0:
        reasons.append(f"the sample planned for a {cfg.mde:.0%} change on {cfg.primary_metric()} is reached: "
                       "the true effect is probably smaller; stop, or keep running only if a smaller "
                       "effect matters")
    return Decision("keep_running", reasons, needed)


def _plan_progress(result: AnalysisResult, needed: float | None, primary_won: bool) -> str:
    """Where a group-sequential experiment stands against its plan (the "keep running" reason)."""
    gs = result.group_sequential
    assert gs is not None
    look, plan = gs.look, gs.look.plan
    where = (f"look {look.index}, {look.units:,} of {plan.planned_units:,.0f} planned units (information fraction "
             f"{look.fraction:.2f}), boundary |z| > {gs.z:.3g}")
    if primary_won:
        return (f"the primary metric crossed the boundary ({where}); keep running until the guardrails are shown "
                "within their margins (their intervals narrow as data comes in)")
    if look.fraction >= 1:
        return (f"the planned sample is reached ({where}) and the boundary was not crossed: the effect is probably "
                "smaller than planned for; stop, or make a new plan if a smaller effect matters")
    if needed is None:
        return f"{where}; days still needed unknown (no traffic rate observed or planned)"
    trend = ("the boundary falls at each look, to near the fixed-horizon value at the planned end"
             if plan.spending == "obrien-fleming" else "the boundary stays about the same at every look")
    return f"about {needed:g} more day(s) to reach the planned units ({where}); {trend}"
