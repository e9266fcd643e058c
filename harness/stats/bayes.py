"""Bayesian chance-to-beat-control under a normal approximation with a flat prior."""

from __future__ import annotations

import math

from harness.stats.effects import ArmEstimate


def chance_to_beat_control(control: ArmEstimate, treatment: ArmEstimate, *,
                           higher_is_better: bool = True) -> float:
    """Return P(treatment better than control) = Phi(diff / sqrt(v_t + v_c)); NaN when undefined.

    With a flat prior the posterior of each arm's mean is N(mean, var_mean), so the posterior of the
    difference is normal too (GrowthBook's Bayesian engine with an uninformative prior).
    """
    v = control.var_mean + treatment.var_mean
    diff = treatment.mean - control.mean
    if not (v > 0 and math.isfinite(diff)):
        return math.nan
    from scipy.special import ndtr

    p = float(ndtr(diff / math.sqrt(v)))
    return p if higher_is_better else 1.0 - p
