"""``proportion``: per unit ``max(column)`` by default (did the unit ever succeed), a rate over units."""

from __future__ import annotations

from collections.abc import Mapping

from harness.ab.metric_types.base import ab_metric_type
from harness.ab.metric_types.mean import MeanType
from harness.errors import DataError
from harness.stats.cuped import CovariateSums
from harness.stats.effects import ArmEstimate, proportion_estimate


@ab_metric_type("proportion")
class ProportionType(MeanType):
    """A share of units: a mean of 0/1 per-unit values with the Wald variance ``p (1 - p) / n``.

    Planned with Cohen's h. Summary field: ``successes`` (no covariate sums).
    """

    default_aggregate = "max"
    plan_as = "proportion"
    summary_keys = ("successes",)
    summary_cuped_keys = ()

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> CovariateSums:
        """``successes`` out of ``n`` (checked to lie in [0, n])."""
        k = values["successes"]
        if not 0 <= k <= n:
            raise DataError(f"{where}.successes must be between 0 and n={n}")
        return CovariateSums(n, k, k, 0.0, 0.0, 0.0)

    def plain_estimate(self, s: CovariateSums) -> ArmEstimate:
        """The success rate with its unpooled variance."""
        return proportion_estimate(s.n, s.sum_y)
