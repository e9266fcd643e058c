"""Turn an event source (the SQL store or a pandas frame) into :class:`ExperimentData`.

An :class:`EventSource` answers three aggregate questions; everything else is shared, so the store
(aggregating in SQL) and an events file (aggregating in pandas) give identical statistics.
"""

from __future__ import annotations

from typing import Protocol

from harness.ab.config import AnalysisConfig, MetricSpec
from harness.ab.data import (
    ExperimentData,
    Pair,
    PairSums,
    UnitValue,
    arm_inputs,
    covariate_value,
    metric_pair,
    quantile_arm,
    quantile_interval_probs,
)

SECONDS_PER_DAY = 86400.0


class EventSource(Protocol):
    """Aggregate queries over request-level events randomised by unit."""

    name: str

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Return (units per variant, first timestamp, last timestamp) with timestamps in epoch seconds."""
        ...

    def quantiles(self, column: str, probs: dict[str, list[float]]) -> dict[str, list[float]]:
        """Return per variant the lower quantiles of ``column`` (request level, NULLs ignored) at ``probs``.

        The lower ``p``-quantile of n values is the ``ceil(p n)``-th smallest
        (:func:`harness.ab.data.order_statistic_index`).
        """
        ...

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Return per variant the :class:`PairSums` of each pair over per-unit values.

        ``thresholds[UnitValue.key][variant]`` is the cut-off of an ``le`` value (events <= it).
        """
        ...


def uses_cuped(spec: MetricSpec, config: AnalysisConfig) -> bool:
    """Whether CUPED applies to a metric (a covariate is configured and the metric is a mean/proportion)."""
    return bool(config.cuped_covariate) and spec.type in ("mean", "proportion", "ratio")


def collect(source: EventSource, config: AnalysisConfig) -> ExperimentData:
    """Aggregate ``source`` into per-variant sufficient statistics for every configured metric.

    Quantile metrics take three steps: the quantile per variant, then (with all other metrics, in one
    pass) each unit's count of events at or below it, then the order statistics that bound its interval.
    """
    thresholds: dict[str, dict[str, float]] = {}
    variants = list(getattr(source, "variants", []) or [])
    quantile_specs = [s for s in config.metrics if s.type == "quantile"]
    for spec in quantile_specs:
        key = UnitValue("le", spec.source_column, spec.quantile).key
        if not variants:
            variants = list(source.overview()[0])
        q = source.quantiles(spec.source_column, {v: [spec.quantile] for v in variants})
        thresholds[key] = {v: vals[0] for v, vals in q.items()}
    pairs: list[Pair] = []
    plan: list[list[int]] = []  # per metric, the indices of its pairs
    for spec in config.metrics:
        cov = config.cuped_covariate if uses_cuped(spec, config) else None
        main = metric_pair(spec, cov if spec.type in ("mean", "proportion") else None)
        plan.append([len(pairs)])
        pairs.append(main)
        if cov and spec.type == "ratio":  # CUPED on a ratio needs numerator x c and denominator x c
            plan[-1] += [len(pairs), len(pairs) + 1]
            pairs += [Pair(main.a, covariate_value(cov)), Pair(main.b, covariate_value(cov))]
    sums = source.pair_sums(pairs, thresholds)
    units, first, last = source.overview()  # after pair_sums: the store computes both in one query
    empty = [PairSums(0, 0, 0, 0, 0, 0)] * len(pairs)
    data = ExperimentData(source=source.name, units=units)
    for i, spec in enumerate(config.metrics):
        per_variant: dict[str, object] = {}
        if spec.type == "quantile":
            key = UnitValue("le", spec.source_column, spec.quantile).key
            i_main = plan[i][0]
            probs = {v: quantile_interval_probs(spec.quantile, sums.get(v, empty)[i_main], config.alpha) for v in units}
            wanted = {v: list(b) for v, b in probs.items() if b is not None}
            bounds = source.quantiles(spec.source_column, wanted) if wanted else {}
            for v in units:
                b = bounds.get(v)
                per_variant[v] = quantile_arm(sums.get(v, empty)[i_main].n, thresholds[key].get(v, float("nan")),
                                              (b[0], b[1]) if b else None, config.alpha)
        else:
            for v in units:
                got = sums.get(v, empty)
                per_variant[v] = arm_inputs(spec, *(got[j] for j in plan[i]), cuped=uses_cuped(spec, config))
        data.metrics[spec.name] = per_variant
    if first is not None and last is not None and last >= first:
        data.days = (last - first) / SECONDS_PER_DAY
        if data.days > 0:
            data.units_per_day = sum(units.values()) / max(data.days, 1.0)
    return data
