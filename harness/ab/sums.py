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


@dataclass(frozen=True)
class SrmPeriod:
    """The units seen while one set of weights was in force (a constant-weight period of an experiment)."""

    label: str
    units: dict[str, int]
    weights: dict[str, float]


#: What happens to a unit seen in more than one variant (stated in the output and in ``harness ab analyze``).
MULTI_VARIANT_RULE = ("a unit seen in more than one variant is excluded from every variant (its exposure is "
                      "ambiguous, so neither arm may keep it)")


@dataclass(frozen=True)
class DataQuality:
    """What an events file held that the analysis could not use, counted so the output can show it.

    ``rows_read`` rows were read; rows without a ``unit_id`` or ``variant`` and every row of a unit seen
    in more than one variant (:data:`MULTI_VARIANT_RULE`) were left out, leaving ``rows_used``.
    ``missing_values[column]`` counts blank cells of a metric column (those events carry no value for
    it); ``ignored_columns[column]`` says why a column was not analysed (e.g. it holds text);
    ``unparsed_timestamps`` rows have a timestamp that is not a date (left out of the experiment's span).
    """

    rows_read: int
    rows_used: int
    rows_without_unit_id: int = 0
    rows_without_variant: int = 0
    multi_variant_units: int = 0
    multi_variant_rows: int = 0
    multi_variant_examples: tuple[str, ...] = ()
    missing_values: dict[str, int] = field(default_factory=dict)
    ignored_columns: dict[str, str] = field(default_factory=dict)
    unparsed_timestamps: int = 0

    @property
    def rows_excluded(self) -> int:
        """Rows left out of the analysis (no unit, no variant, or a unit in several variants)."""
        return self.rows_read - self.rows_used

    def to_dict(self) -> dict:
        """The ``data_quality`` entry of the ``--json`` output."""
        return {"rows_read": self.rows_read, "rows_used": self.rows_used, "rows_excluded": self.rows_excluded,
                "rows_without_unit_id": self.rows_without_unit_id, "rows_without_variant": self.rows_without_variant,
                "multi_variant_units": self.multi_variant_units, "multi_variant_rows": self.multi_variant_rows,
                "multi_variant_examples": list(self.multi_variant_examples),
                "multi_variant_rule": MULTI_VARIANT_RULE,
                "missing_values": dict(self.missing_values), "ignored_columns": dict(self.ignored_columns),
                "unparsed_timestamps": self.unparsed_timestamps}


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
    #: per constant-weight period, when the weights changed during the experiment (else ``None``)
    srm_periods: list[SrmPeriod] | None = None
    #: rows and columns of an events file the analysis could not use (``None`` for other sources)
    quality: DataQuality | None = None


def order_statistic_index(p: float, n: int) -> int:
    """0-based index of the lower ``p``-quantile in ``n`` sorted values: the smallest value whose
    cumulative share is >= p (``ceil(p n) - 1``, clipped to the data); the store uses the same rule."""
    return min(max(math.ceil(min(max(p, 0.0), 1.0) * n - 1e-9) - 1, 0), max(n - 1, 0))


def covariate_value(column: str) -> UnitValue:
    """The per-unit pre-period covariate of CUPED (constant over a unit's events, so ``max``)."""
    return UnitValue("max", column)
