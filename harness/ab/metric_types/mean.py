"""``mean``: per unit ``aggregate(column)`` (``mean`` by default), averaged over units; Welch t between arms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from harness.ab.metric_types.base import MetricType, ab_metric_type
from harness.ab.sums import Pair, PairSums, UnitValue, covariate_value
from harness.stats.cuped import CovariateSums, cuped_estimates
from harness.stats.effects import ArmEstimate, mean_estimate

if TYPE_CHECKING:
    from harness.ab.config import MetricSpec


@ab_metric_type("mean")
class MeanType(MetricType):
    """A mean over units of one value per unit; with a covariate, CUPED on that value.

    Per variant it keeps :class:`~harness.stats.cuped.CovariateSums` (covariate sums zero without CUPED).
    Summary fields: ``sum``, ``sum_squares`` (+ ``covariate_sum``, ``covariate_sum_squares``,
    ``covariate_cross_sum`` for CUPED).
    """

    supports_cuped = True
    summary_keys = ("sum", "sum_squares")
    summary_cuped_keys = ("covariate_sum", "covariate_sum_squares", "covariate_cross_sum")

    def pairs(self, spec: MetricSpec, covariate: str | None) -> list[Pair]:
        """One pair: (value, covariate) with CUPED, else (value, value)."""
        value = UnitValue(spec.unit_aggregate, spec.source_column)
        return [Pair(value, covariate_value(covariate) if covariate else value)]

    def arm_statistic(self, spec: MetricSpec, sums: Sequence[PairSums], cuped: bool) -> CovariateSums:
        """The value's sums, with the covariate's when CUPED applies."""
        s = sums[0]
        if cuped:
            return CovariateSums(s.n, s.sum_a, s.sum_aa, s.sum_b, s.sum_bb, s.sum_ab)
        return CovariateSums(s.n, s.sum_a, s.sum_aa, 0.0, 0.0, 0.0)

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> CovariateSums:
        """``sum`` and ``sum_squares``, with the covariate sums when all three are given and CUPED is on."""
        has_cov = cuped and all(k in values for k in self.summary_cuped_keys)
        cov = tuple(values[k] for k in self.summary_cuped_keys) if has_cov else (0.0, 0.0, 0.0)
        return CovariateSums(n, values["sum"], values["sum_squares"], *cov)

    def plain_estimate(self, s: CovariateSums) -> ArmEstimate:
        """The arm's estimate without CUPED: the sample mean and ``s^2 / n``."""
        return mean_estimate(s.n, s.sum_y, s.sum_yy)

    def estimates(self, spec: MetricSpec, inputs: Mapping[str, object],
                  cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
        """CUPED-adjusted estimates when asked and the covariate varies, else :meth:`plain_estimate` per arm."""
        sums: Mapping[str, CovariateSums] = inputs  # type: ignore[assignment]
        if cuped and any(s.sum_xx > 0 for s in sums.values()):
            return cuped_estimates(sums)
        return {v: self.plain_estimate(s) for v, s in sums.items()}, None
