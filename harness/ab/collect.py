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
    metric_pair,
    quantile_arm,
    quantile_from_histogram,
)

SECONDS_PER_DAY = 86400.0


class EventSource(Protocol):
    """Aggregate queries over request-level events randomised by unit."""

    name: str

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Return (units per variant, first timestamp, last timestamp) with timestamps in epoch seconds."""
        ...

    def histogram(self, column: str) -> dict[str, tuple[list[float], list[int]]]:
        """Return per variant the sorted distinct (rounded) values of ``column`` and their counts."""
        ...

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Return per variant the :class:`PairSums` of each pair over per-unit values.

        ``thresholds[UnitValue.key][variant]`` is the cut-off of an ``le`` value (events <= it).
        """
        ...


def uses_cuped(spec: MetricSpec, config: AnalysisConfig) -> bool:
    """Whether CUPED applies to a metric (a covariate is configured and the metric is a mean/proportion)."""
    return bool(config.cuped_covariate) and spec.type in ("mean", "proportion")


def collect(source: EventSource, config: AnalysisConfig) -> ExperimentData:
    """Aggregate ``source`` into per-variant sufficient statistics for every configured metric."""
    thresholds: dict[str, dict[str, float]] = {}
    hists: dict[str, dict[str, tuple[list[float], list[int]]]] = {}
    for spec in config.metrics:
        if spec.type == "quantile":
            h = hists.setdefault(spec.source_column, source.histogram(spec.source_column))
            key = UnitValue("le", spec.source_column, spec.quantile).key
            thresholds[key] = {v: quantile_from_histogram(vals, cnts, spec.quantile) for v, (vals, cnts) in h.items()}
    pairs = [metric_pair(s, config.cuped_covariate if uses_cuped(s, config) else None) for s in config.metrics]
    sums = source.pair_sums(pairs, thresholds)
    units, first, last = source.overview()  # after pair_sums: the store computes both in one query
    data = ExperimentData(source=source.name, units=units)
    for i, spec in enumerate(config.metrics):
        per_variant: dict[str, object] = {}
        for variant in units:
            s = sums.get(variant, [PairSums(0, 0, 0, 0, 0, 0)] * len(pairs))[i]
            if spec.type == "quantile":
                vals, cnts = hists[spec.source_column].get(variant, ([], []))
                per_variant[variant] = quantile_arm(vals, cnts, spec.quantile, s, config.alpha)
            else:
                per_variant[variant] = arm_inputs(spec, s, cuped=uses_cuped(spec, config))
        data.metrics[spec.name] = per_variant
    if first is not None and last is not None and last >= first:
        data.days = (last - first) / SECONDS_PER_DAY
        if data.days > 0:
            data.units_per_day = sum(units.values()) / max(data.days, 1.0)
    return data
