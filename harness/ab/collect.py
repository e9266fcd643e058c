"""Turn an event source (the SQL store or a pandas frame) into :class:`ExperimentData`.

An :class:`EventSource` answers three aggregate questions; everything else is shared, so the store
(aggregating in SQL) and an events file (aggregating in pandas) give identical statistics.
"""

from __future__ import annotations

from typing import Protocol

from harness.ab.config import AnalysisConfig, MetricSpec
from harness.ab.sums import EMPTY_SUMS, ExperimentData, Pair, PairSums

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
        (:func:`harness.ab.sums.order_statistic_index`).
        """
        ...

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Return per variant the :class:`PairSums` of each pair over per-unit values.

        ``thresholds[UnitValue.key][variant]`` is the cut-off of an ``le`` value (events <= it).
        """
        ...


def uses_cuped(spec: MetricSpec, config: AnalysisConfig) -> bool:
    """Whether CUPED applies to a metric (a covariate is configured and the metric's type supports it)."""
    return bool(config.cuped_covariate) and spec.metric_type.supports_cuped


def collect(source: EventSource, config: AnalysisConfig) -> ExperimentData:
    """Aggregate ``source`` into per-variant sufficient statistics for every configured metric.

    Each metric's type says what it needs: thresholds first (e.g. a quantile per variant), then the
    sums of its per-unit value pairs (every metric's pairs in one pass over the source), then its
    per-variant statistic from those sums (a quantile reads the order statistics of its interval).
    """
    variants = list(getattr(source, "variants", None) or source.overview()[0])
    thresholds: dict[str, dict[str, float]] = {}
    for spec in config.metrics:
        thresholds.update(spec.metric_type.thresholds(spec, source, variants, config.alpha))
    pairs: list[Pair] = []
    plan: list[range] = []  # per metric, the positions of its pairs
    for spec in config.metrics:
        wanted = spec.metric_type.pairs(spec, config.cuped_covariate if uses_cuped(spec, config) else None)
        plan.append(range(len(pairs), len(pairs) + len(wanted)))
        pairs += wanted
    sums = source.pair_sums(pairs, thresholds)
    units, first, last = source.overview()  # after pair_sums: the store computes both in one query
    empty = [EMPTY_SUMS] * len(pairs)
    data = ExperimentData(source=source.name, units=units)
    for spec, positions in zip(config.metrics, plan, strict=True):
        per_variant: dict[str, list[PairSums]] = {v: [sums.get(v, empty)[j] for j in positions] for v in units}
        data.metrics[spec.name] = spec.metric_type.arm_inputs(
            spec, per_variant, source=source, thresholds=thresholds, alpha=config.alpha,
            cuped=uses_cuped(spec, config))
    periods = getattr(source, "srm_periods", None)  # sources that know when the weights changed
    if periods is not None:
        data.srm_periods = periods(list(units))
    if first is not None and last is not None and last >= first:
        data.days = (last - first) / SECONDS_PER_DAY
        if data.days > 0:
            data.units_per_day = sum(units.values()) / max(data.days, 1.0)
    return data
