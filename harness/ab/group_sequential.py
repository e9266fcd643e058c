"""Group-sequential analysis of a planned experiment: which look this is, its boundary, the effects at it.

With a horizon (``--planned-units N`` or the plan stored by ``harness ab plan --experiment``), every
analysis is a *look* at information fraction ``t = units so far / planned units`` (units across all
variants). The boundary comes from :func:`harness.stats.group_sequential.boundaries` over the
fractions of every look taken so far (Lan-DeMets spending: O'Brien-Fleming-like by default, Pocock
as an option); in the workspace the looks are stored, so a re-analysis uses the same fractions and
re-running a look (same units so far) adds none. An events or summary file stores nothing: it is
analysed as a single look at its fraction.

What the boundary applies to: the primary metric's comparisons (one per treatment). With several
treatments the alpha is split evenly between them (Bonferroni), so each comparison's repeated
interval ``estimate +- c_k se`` and its p-value (the repeated p-value times the number of
treatments) agree: significant exactly when the interval excludes zero. Secondary metrics and
guardrails keep their method (always-valid by default, fixed-horizon with ``sequential: false``),
corrected among themselves: they have no planned horizon of their own, and always-valid intervals
stay valid at every look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import ConfigError, DataError
from harness.stats.effects import ArmEstimate, EffectInterval, EffectResult, guard, relative_variance

if TYPE_CHECKING:
    from harness.stats.group_sequential import Boundary

SPENDING_LABELS = {"obrien-fleming": "O'Brien-Fleming-like", "pocock": "Pocock-like"}
METHOD = "group_sequential"


@dataclass(frozen=True)
class GsPlan:
    """The horizon of a group-sequential analysis and where it came from (``source``, said in the output)."""

    planned_units: float
    alpha: float = 0.05
    spending: str = "obrien-fleming"
    source: str = "--planned-units"
    stored: bool = False  # the plan lives in the workspace, so its looks are stored too
    planned_days: float | None = None
    units_per_day: float | None = None
    looks: str = "daily"
    primary_metric: str | None = None
    mde: float | None = None

    def __post_init__(self) -> None:
        from harness.stats.group_sequential import SPENDING_FUNCTIONS

        if not (self.planned_units > 0 and math.isfinite(self.planned_units)):
            raise ConfigError(f"planned units must be a positive number, got {self.planned_units}",
                              hint="pass --planned-units with the units planned across all variants, e.g. 20000")
        if self.spending not in SPENDING_FUNCTIONS:
            raise ConfigError(f"unknown spending function {self.spending!r}",
                              hint=f"use one of {', '.join(SPENDING_FUNCTIONS)}")


@dataclass(frozen=True)
class GsLook:
    """Which look an analysis is: its index (1-based), units so far and the fractions of looks 1..index."""

    plan: GsPlan
    index: int
    units: int
    fractions: tuple[float, ...]
    new: bool  # this analysis adds the look (the caller records it when the looks are stored)
    notes: tuple[str, ...] = ()

    @property
    def fraction(self) -> float:
        """The information fraction now (units so far / planned units; may pass 1). It equals the look's
        stored fraction, except after the final look, whose boundary later data is read at."""
        return self.units / self.plan.planned_units


def locate_look(plan: GsPlan, units: int, taken: Sequence[tuple[int, float]] | None, *,
                unstored: str = "a file stores none") -> GsLook:
    """Return this analysis's :class:`GsLook` from the looks already ``taken`` as (units, fraction) pairs.

    ``taken=None`` means nothing is stored (``unstored`` says why, in the note): a single look at
    ``units / planned``. Otherwise the
    look whose units equal ``units`` is re-used (a re-analysis of the same data adds no look), a
    larger ``units`` adds the next look, and after the look that reached the plan no look is added
    (the analysis is read at that final boundary). Fewer units than the last look, matching none of
    them, is a DataError: events were removed since.
    """
    if units <= 0:
        raise DataError(f"{plan.source}: no units yet, so there is nothing to look at",
                        hint="analyse once the experiment has traffic")
    fraction = units / plan.planned_units
    if taken is None:
        return GsLook(plan, 1, units, (fraction,), new=False,
                      notes=(f"looks are not stored ({unstored}): this is a single-look analysis at information "
                             f"fraction {fraction:.3f}, earlier looks are not accounted for",))
    taken = list(taken)
    for i, (seen, _) in enumerate(taken):
        if seen == units:
            return GsLook(plan, i + 1, units, tuple(f for _, f in taken[: i + 1]), new=False,
                          notes=(f"same units as look {i + 1}: re-analysed at that look, no look added",))
    if taken and units < taken[-1][0]:
        raise DataError(f"{plan.source}: {units} units now, fewer than the {taken[-1][0]} of look {len(taken)}; "
                        "events were removed since the looks were taken",
                        hint="re-plan with harness ab plan --experiment NAME --replace-plan to restart the looks")
    if taken and taken[-1][1] >= 1.0:
        final = len(taken)
        return GsLook(plan, final, units, tuple(f for _, f in taken), new=False,
                      notes=(f"the planned {plan.planned_units:,.0f} units were reached at look {final}: that was "
                             "the final look, and more data is read at its boundary (no alpha is left to spend)",))
    return GsLook(plan, len(taken) + 1, units, (*(f for _, f in taken), fraction), new=True)


@dataclass(frozen=True)
class GsResult:
    """The group-sequential part of an analysis: the look, its boundary, and what it applies to."""

    look: GsLook
    boundary: Boundary  # at alpha / comparisons
    metric: str | None
    comparisons: int
    other_method: str  # the method of the other metrics: "sequential" or "fixed"

    @property
    def z(self) -> float:
        """The critical ``|z|`` at this look (``inf`` when no alpha is left)."""
        return self.boundary.z[-1]

    def reason(self) -> str:
        """Why the analysis is group-sequential, in words."""
        plan = self.look.plan
        return (f"group-sequential ({SPENDING_LABELS.get(plan.spending, plan.spending)} alpha spending) because "
                f"the experiment has a planned horizon of {plan.planned_units:,.0f} units ({plan.source})")

    def to_dict(self) -> dict:
        """The ``group_sequential`` entry of the ``--json`` output."""
        look, plan, b = self.look, self.look.plan, self.boundary
        return {
            "planned_units": plan.planned_units, "planned_days": plan.planned_days, "plan_source": plan.source,
            "looks_planned": plan.looks, "spending": plan.spending, "alpha": plan.alpha,
            "look": look.index, "units": look.units, "information_fraction": look.fraction,
            "boundary_z": self.z, "nominal_alpha": b.nominal_alpha[-1] if b.nominal_alpha else None,
            "alpha_spent": b.alpha_spent[-1] if b.alpha_spent else None,
            "comparison_alpha": b.alpha, "comparisons": self.comparisons,
            "looks": [{"look": i + 1, "information_fraction": f, "boundary_z": z}
                      for i, (f, z) in enumerate(zip(b.fractions, b.z, strict=False))],
            "looks_stored": plan.stored, "new_look": look.new and plan.stored,
            "applies_to": self.metric, "other_metrics_method": self.other_method,
        }


def look_boundary(look: GsLook, comparisons: int) -> Boundary:
    """Return the boundary over the looks 1..index at ``alpha / comparisons`` (one share per treatment)."""
    from harness.stats.group_sequential import boundaries

    b = boundaries(look.fractions, look.plan.alpha / max(comparisons, 1), look.plan.spending)  # type: ignore[arg-type]
    if b.error:
        raise DataError(f"{look.plan.source}: cannot compute the boundary ({b.error}) at fractions {look.fractions}",
                        hint="check the planned units and the stored looks (harness ab plan --replace-plan restarts)")
    return b


def _at_boundary(estimate: float, se: float, boundary: Boundary) -> EffectInterval:
    """The repeated interval ``estimate +- c_k se`` and the repeated p-value of ``estimate / se``."""
    from harness.stats.group_sequential import sequential_p_value, z_interval

    if not (se > 0 and math.isfinite(estimate)):
        return EffectInterval(estimate, (math.nan, math.nan), math.nan, se)
    k = len(boundary.z)
    # the repeated p-value depends on the looks' fractions and this look's z only
    p = sequential_p_value([0.0] * (k - 1) + [estimate / se], boundary)
    return EffectInterval(estimate, z_interval(estimate, se, boundary.z[-1]), p, se)


def compare_at_boundary(control: ArmEstimate, treatment: ArmEstimate, boundary: Boundary) -> EffectResult:
    """Return absolute and relative effects with repeated intervals at the boundary's last look.

    Normal reference throughout (the boundary is on the z scale); the relative effect uses the delta
    method, as :func:`harness.stats.effects.compare_arms` does.
    """
    error = guard(control, treatment)
    if error:
        return EffectResult(error=error, method=METHOD)
    absolute = _at_boundary(treatment.mean - control.mean, math.sqrt(control.var_mean + treatment.var_mean), boundary)
    details = {"boundary_z": boundary.z[-1]}
    if control.mean == 0:
        return EffectResult(absolute=absolute, error="zero_control_mean", method=METHOD, details=details)
    relative = _at_boundary(treatment.mean / control.mean - 1.0,
                            math.sqrt(relative_variance(control, treatment)), boundary)
    return EffectResult(absolute=absolute, relative=relative, method=METHOD, details=details)


def crossed(effect: EffectResult) -> bool:
    """Whether the absolute effect crosses the boundary (equivalently: its repeated interval excludes 0)."""
    if effect.error and effect.error != "zero_control_mean":
        return False
    lo, hi = effect.absolute.ci
    return bool(lo > 0 or hi < 0)  # read off the interval itself, so the two can never disagree


def adjusted_p_value(p: float, comparisons: int, significant: bool, alpha: float) -> float:
    """Bonferroni across the treatments (``p * comparisons``), pinned to the side of ``alpha`` the boundary says."""
    if not math.isfinite(p):
        return p
    adj = min(1.0, p * comparisons)
    return min(adj, math.nextafter(alpha, 0.0)) if significant else max(adj, alpha)


def days_to_plan_end(gs: GsResult, days: float | None, units_per_day: float | None, min_days: int) -> float | None:
    """Days until the planned units are reached at the observed traffic (else the plan's), at least
    until ``min_days`` full days have passed; ``0`` once the plan is reached, ``None`` when unknown."""
    plan = gs.look.plan
    remaining = plan.planned_units - gs.look.units
    per_day = units_per_day or plan.units_per_day
    elapsed = days or 0.0
    if remaining <= 0:
        return 0.0
    if not per_day:
        if plan.planned_days is None:
            return None
        return max(0.0, math.ceil(max(plan.planned_days, min_days) - elapsed - 1e-9))
    return max(0.0, math.ceil(max(remaining / per_day, min_days - elapsed) - 1e-9))
