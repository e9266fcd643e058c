"""Per-variant sufficient statistics of an experiment, whatever the source (store, file, summary).

Loaders turn events into per-unit values (one row per randomisation unit) and then into sums: the
same sums a SQL ``GROUP BY`` produces in any database. :func:`unit_plan` says which per-unit values
and which sums each metric needs; :func:`arm_inputs` turns the sums into the inputs of
:mod:`harness.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from harness.ab.config import REQUESTS, MetricSpec
from harness.stats.cuped import CovariateSums, RatioCovariateSums


@dataclass(frozen=True)
class UnitValue:
    """A per-unit value: ``agg`` (sum, mean, max, count, le) over the unit's events of ``column``."""

    agg: str
    column: str | None = None
    p: float | None = None  # for ``le``: the quantile whose threshold the events are compared with

    @property
    def key(self) -> str:
        """A stable identifier of the value (aggregate, column, quantile level)."""
        return f"{self.agg}:{self.column or '*'}" + (f"@{self.p}" if self.p is not None else "")


@dataclass(frozen=True)
class Pair:
    """Ask for the joint sums of two per-unit values over units where both are present."""

    a: UnitValue
    b: UnitValue


@dataclass(frozen=True)
class PairSums:
    """Sums over units of ``a``, ``b``, their squares and product (units with both values)."""

    n: int
    sum_a: float
    sum_b: float
    sum_aa: float
    sum_bb: float
    sum_ab: float


@dataclass(frozen=True)
class QuantileArm:
    """A quantile estimate for one variant with its standard error (cluster-robust)."""

    n: int
    estimate: float
    se: float


@dataclass
class ExperimentData:
    """What the analysis needs: units per variant, per-metric per-variant inputs, and timing."""

    source: str
    units: dict[str, int]
    metrics: dict[str, dict[str, object]] = field(default_factory=dict)
    days: float | None = None
    units_per_day: float | None = None


def metric_value(spec: MetricSpec) -> UnitValue:
    """The per-unit value of a proportion/mean metric (or the numerator of a ratio)."""
    if spec.type == "ratio":
        return UnitValue("sum", spec.numerator)
    return UnitValue(spec.unit_aggregate, spec.source_column)


def denominator_value(spec: MetricSpec) -> UnitValue:
    """The per-unit denominator of a ratio metric: ``count`` of events, ``count:COL`` or a column sum."""
    den = spec.denominator or REQUESTS
    if den == REQUESTS:
        return UnitValue("count")
    if den.startswith("count:"):
        return UnitValue("count", den.split(":", 1)[1])
    return UnitValue("sum", den)


def covariate_value(column: str) -> UnitValue:
    """The per-unit pre-period covariate (constant over a unit's events, so ``max``)."""
    return UnitValue("max", column)


def metric_pair(spec: MetricSpec, covariate: str | None) -> Pair:
    """Return the joint sums a metric needs: (numerator, denominator), (value, covariate) or (value, value)."""
    if spec.type == "ratio":
        return Pair(metric_value(spec), denominator_value(spec))
    if spec.type == "quantile":
        return Pair(UnitValue("le", spec.source_column, spec.quantile), UnitValue("count", spec.source_column))
    value = metric_value(spec)
    return Pair(value, covariate_value(covariate) if covariate else value)


def arm_inputs(spec: MetricSpec, sums: PairSums, *extra: PairSums, cuped: bool) -> object:
    """Wrap a metric's sums for the analysis: :class:`CovariateSums` (mean/proportion), ratio sums
    (:class:`PairSums`, or :class:`RatioCovariateSums` with CUPED: ``extra`` = numerator x covariate and
    denominator x covariate sums, used only when they cover the same units)."""
    if spec.type == "ratio" and cuped and len(extra) == 2 and extra[0].n == extra[1].n == sums.n:
        yc, xc = extra
        return RatioCovariateSums(sums.n, sums.sum_a, sums.sum_b, sums.sum_aa, sums.sum_bb, sums.sum_ab,
                                  yc.sum_b, yc.sum_bb, yc.sum_ab, xc.sum_ab)
    if spec.type == "ratio" or spec.type == "quantile":
        return sums
    if cuped:
        return CovariateSums(sums.n, sums.sum_a, sums.sum_aa, sums.sum_b, sums.sum_bb, sums.sum_ab)
    return CovariateSums(sums.n, sums.sum_a, sums.sum_aa, 0.0, 0.0, 0.0)


def order_statistic_index(p: float, n: int) -> int:
    """0-based index of the lower ``p``-quantile in ``n`` sorted values: the smallest value whose
    cumulative share is >= p (``ceil(p n) - 1``, clipped to the data); the store uses the same rule."""
    return min(max(math.ceil(min(max(p, 0.0), 1.0) * n - 1e-9) - 1, 0), max(n - 1, 0))


def quantile_interval_probs(p: float, le_sums: PairSums, alpha: float = 0.05) -> tuple[float, float] | None:
    """Return ``(p - z sigma_F, p + z sigma_F)``: where to read the quantile's interval (Deng et al. 2018, s. 4).

    ``le_sums`` pairs, per unit, the number of events at or below the estimated quantile with the
    number of events, so ``F = sum(le) / sum(count)`` is a ratio metric whose delta-method SE
    ``sigma_F`` respects unit randomisation. ``None`` when sigma_F is not computable.
    """
    from scipy.special import ndtri

    from harness.stats.effects import ratio_estimate

    s = le_sums
    f = ratio_estimate(s.n, s.sum_a, s.sum_b, s.sum_aa, s.sum_bb, s.sum_ab)
    if not math.isfinite(f.var_mean) or f.var_mean <= 0:
        return None
    z = -float(ndtri(alpha / 2))
    return p - z * f.se, p + z * f.se


def quantile_arm(n: int, estimate: float, bounds: tuple[float, float] | None, alpha: float = 0.05) -> QuantileArm:
    """Return the quantile with SE = half the width of its order-statistic interval over ``z``."""
    from scipy.special import ndtri

    if bounds is None or not math.isfinite(estimate):
        return QuantileArm(n, estimate, math.nan)
    z = -float(ndtri(alpha / 2))
    return QuantileArm(n, estimate, (bounds[1] - bounds[0]) / (2 * z))
