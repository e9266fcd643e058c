"""Always-valid (anytime) inference for A/B tests: look every day without inflating false positives.

We use the normal-mixture boundary (Robbins 1970; Howard, Ramdas, McAuliffe & Sekhon 2021,
"Time-uniform, nonparametric, nonasymptotic confidence sequences"), in the asymptotic form of
Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas 2023 ("Time-uniform central limit theory and asymptotic
confidence sequences", Thm 2.2), written for an estimate ``theta_hat`` whose sampling variance is ``V``
(the mSPRT of Johari, Pekelis & Walsh 2017/2022, "Always valid inference"):

    Lambda = sqrt(V / (V + tau2)) * exp(tau2 * theta_hat^2 / (2 V (V + tau2)))
    CS:      theta_hat +- sqrt( V (V + tau2) / tau2 * (log((V + tau2) / V) - 2 log(alpha)) )
    p-value: min(1, 1 / Lambda)      (take the running minimum across looks for an always-valid p)

With ``V = sigma^2 / t`` and ``tau2 = sigma^2 rho^2`` this is exactly Waudby-Smith et al.'s
``sigma * sqrt(2 (t rho^2 + 1) / (t^2 rho^2) * log(sqrt(t rho^2 + 1) / alpha))``. The mixture
variance is the tuning parameter: we set ``rho^2 = (-2 log alpha + log(-2 log alpha + 1)) / N*``
(their closed-form optimum, also GrowthBook's default), so the interval is tightest near ``N*`` units
(``tuning_units``, default 5,000, which GrowthBook also uses). Since ``V`` shrinks as ``1/n``,
``tau2 = V * n / N* * c`` where ``c = -2 log alpha + log(-2 log alpha + 1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.stats.effects import ArmEstimate, EffectInterval, EffectResult, guard, relative_variance

DEFAULT_TUNING_UNITS = 5000


@dataclass(frozen=True)
class SequentialConfig:
    """Tuning of the confidence sequence: ``tuning_units`` is the total sample size it is tuned for."""

    tuning_units: float = DEFAULT_TUNING_UNITS

    def __post_init__(self) -> None:
        if not self.tuning_units > 0:
            raise ValueError(f"tuning_units must be > 0, got {self.tuning_units}; use the planned units")


def mixture_constant(alpha: float) -> float:
    """Return ``c = -2 log alpha + log(-2 log alpha + 1)``: ``tau2 / V = n c / N*`` at ``n`` of ``N*`` units."""
    return -2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)


def mixture_variance(var_estimate: float, n_units: float, alpha: float, tuning_units: float) -> float:
    """Return ``tau2`` for an estimate of variance ``var_estimate`` measured on ``n_units`` units."""
    return var_estimate * n_units * mixture_constant(alpha) / tuning_units


def half_width(var_estimate: float, tau2: float, alpha: float) -> float:
    """Return the confidence sequence's half-width ``sqrt(V (V + tau2) / tau2 (log((V + tau2) / V) - 2 log alpha))``.

    With ``V = 1`` and ``tau2 = r`` it is the half-width in standard errors at ``tau2 / V = r``.
    """
    v = var_estimate
    return math.sqrt(v * (v + tau2) / tau2 * (math.log((v + tau2) / v) - 2 * math.log(alpha)))


def sequential_interval(estimate: float, var_estimate: float, tau2: float, alpha: float) -> EffectInterval:
    """Return the always-valid interval and mixture-SPRT p-value for one estimate (formula above)."""
    v = var_estimate
    if not (v > 0 and tau2 > 0 and math.isfinite(estimate)):
        return EffectInterval(estimate, (math.nan, math.nan), math.nan, math.sqrt(max(v, 0.0)))
    half = half_width(v, tau2, alpha)
    log_lambda = 0.5 * math.log(v / (v + tau2)) + tau2 * estimate**2 / (2 * v * (v + tau2))
    p = 1.0 if log_lambda <= 0 else math.exp(-log_lambda)
    return EffectInterval(estimate, (estimate - half, estimate + half), min(1.0, p), math.sqrt(v))


def compare_arms_sequential(control: ArmEstimate, treatment: ArmEstimate, *, alpha: float = 0.05,
                            config: SequentialConfig | None = None) -> EffectResult:
    """Return always-valid absolute and relative effects (normal-mixture confidence sequences)."""
    config = config or SequentialConfig()
    error = guard(control, treatment)
    if error:
        return EffectResult(error=error, method="sequential")
    n = control.n + treatment.n
    diff = treatment.mean - control.mean
    v_abs = control.var_mean + treatment.var_mean
    absolute = sequential_interval(diff, v_abs, mixture_variance(v_abs, n, alpha, config.tuning_units),
                                   alpha)
    if control.mean == 0:
        return EffectResult(absolute=absolute, error="zero_control_mean", method="sequential")
    rel = treatment.mean / control.mean - 1.0
    v_rel = relative_variance(control, treatment)
    relative = sequential_interval(rel, v_rel, mixture_variance(v_rel, n, alpha, config.tuning_units),
                                   alpha)
    return EffectResult(absolute=absolute, relative=relative, method="sequential")
