"""Per-variant sufficient statistics of an experiment, whatever the source (store, file, summary).

Sources turn events into per-unit values (one row per randomisation unit) and then into sums: the
same sums a SQL ``GROUP BY`` produces in any database. A metric type
(:mod:`harness.ab.metric_types`) asks for the per-unit values it needs as :class:`Pair` s of
:class:`UnitValue` s, and gets back one :class:`PairSums` per pair and variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: A column name meaning "the unit's number of events (requests)", e.g. a ratio's denominator.
REQUESTS = "requests"


@dataclass(frozen=True)
class UnitValue:
    """A per-unit value: ``agg`` over the unit's events of ``column``.

    The vocabulary every event source answers: ``sum``, ``mean``, ``max`` of a column; ``count`` of the
    events with a value in ``column`` (of all events when ``column`` is ``None``); ``le``: the number of
    events at or below a per-variant threshold (the ``p``-quantile, see :class:`harness.ab.collect.EventSource`).
    """

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


EMPTY_SUMS = PairSums(0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class QuantileArm:
    """A quantile estimate for one variant with its standard error (cluster-robust)."""

    n: int
    estimate: float
    se: float


@dataclass
class ExperimentData:
    """What the analysis needs: units per variant, per-metric per-variant inputs, and timing.

    ``metrics[name][variant]`` is whatever the metric's type built from the sums (its
    ``arm_statistic``) and reads back in its ``estimates``.
    """

    source: str
    units: dict[str, int]
    metrics: dict[str, dict[str, object]] = field(default_factory=dict)
    days: float | None = None
    units_per_day: float | None = None


def order_statistic_index(p: float, n: int) -> int:
    """0-based index of the lower ``p``-quantile in ``n`` sorted values: the smallest value whose
    cumulative share is >= p (``ceil(p n) - 1``, clipped to the data); the store uses the same rule."""
    return min(max(math.ceil(min(max(p, 0.0), 1.0) * n - 1e-9) - 1, 0), max(n - 1, 0))


def covariate_value(column: str) -> UnitValue:
    """The per-unit pre-period covariate of CUPED (constant over a unit's events, so ``max``)."""
    return UnitValue("max", column)
