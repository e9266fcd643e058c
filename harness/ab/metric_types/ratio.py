"""``ratio``: ``sum(numerator) / sum(denominator)`` over all units, with the delta method.

A ``denominator`` of ``requests`` makes a per-request mean that respects unit randomisation;
``count:COLUMN`` divides by the number of events with a value in COLUMN (e.g. rated requests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.ab.metric_types.base import MetricType, ab_metric_type
from harness.ab.sums import REQUESTS, Pair, PairSums, UnitValue, covariate_value
from harness.errors import ConfigError
from harness.stats.cuped import RatioCovariateSums, cuped_ratio_estimates
from harness.stats.effects import ArmEstimate, ratio_estimate

if TYPE_CHECKING:
    from harness.ab.config import MetricSpec


def denominator_value(spec: MetricSpec) -> UnitValue:
    """The per-unit denominator of a ratio metric: ``count`` of events, ``count:COL`` or a column sum."""
    den = spec.denominator or REQUESTS
    if den == REQUESTS:
        return UnitValue("count")
    if den.startswith("count:"):
        return UnitValue("count", den.split(":", 1)[1])
    return UnitValue("sum", den)


@ab_metric_type("ratio")
class RatioType(MetricType):
    """A ratio of per-unit totals; per variant :class:`~harness.ab.sums.PairSums` of (numerator, denominator),
    or :class:`~harness.stats.cuped.RatioCovariateSums` with CUPED (on the delta-method linearisation)."""

    supports_cuped = True
    summary_keys = ("numerator_sum", "numerator_sum_squares", "denominator_sum", "denominator_sum_squares",
                    "cross_sum")
    summary_cuped_keys = ("covariate_sum", "covariate_sum_squares", "numerator_covariate_cross_sum",
                          "denominator_covariate_cross_sum")

    def flag_fields(self, name: str, kind: str, args: str | None, text: str) -> dict[str, Any]:
        """``NUMERATOR/DENOMINATOR`` (denominator ``requests`` when empty)."""
        if not args or "/" not in args:
            raise ConfigError(f"--metric {text!r}: a ratio needs NUMERATOR/DENOMINATOR",
                              hint=f"e.g. {name}:ratio:cost/requests")
        num, den = args.split("/", 1)
        return {"numerator": num, "denominator": den or REQUESTS}

    def validate(self, spec: MetricSpec) -> None:
        """A ratio needs a numerator column."""
        if not spec.numerator:
            raise ConfigError(f"metric {spec.name!r}: a ratio metric needs a numerator column",
                              hint="write it as NAME:ratio:NUMERATOR/DENOMINATOR (denominator may be 'requests')")

    def columns(self, spec: MetricSpec) -> list[str]:
        """The numerator and the denominator column (none for ``requests``)."""
        den = (spec.denominator or REQUESTS).removeprefix("count:")
        return [c for c in (spec.numerator, den) if c and c != REQUESTS]

    def pairs(self, spec: MetricSpec, covariate: str | None) -> list[Pair]:
        """(numerator, denominator); with CUPED also numerator x covariate and denominator x covariate."""
        main = Pair(UnitValue("sum", spec.numerator), denominator_value(spec))
        if not covariate:
            return [main]
        c = covariate_value(covariate)
        return [main, Pair(main.a, c), Pair(main.b, c)]

    def arm_statistic(self, spec: MetricSpec, sums: Sequence[PairSums], cuped: bool) -> object:
        """The ratio's sums; with CUPED the covariate's too, used only when they cover the same units."""
        s = sums[0]
        if cuped and len(sums) == 3 and sums[1].n == sums[2].n == s.n:
            yc, xc = sums[1], sums[2]
            return RatioCovariateSums(s.n, s.sum_a, s.sum_b, s.sum_aa, s.sum_bb, s.sum_ab,
                                      yc.sum_b, yc.sum_bb, yc.sum_ab, xc.sum_ab)
        return s

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> object:
        """The five ratio sums, with the four covariate sums when all are given and CUPED is on."""
        if cuped and all(k in values for k in self.summary_cuped_keys):
            return RatioCovariateSums(n, values["numerator_sum"], values["denominator_sum"],
                                      values["numerator_sum_squares"], values["denominator_sum_squares"],
                                      values["cross_sum"], *(values[k] for k in self.summary_cuped_keys))
        return PairSums(n, values["numerator_sum"], values["denominator_sum"], values["numerator_sum_squares"],
                        values["denominator_sum_squares"], values["cross_sum"])

    def estimates(self, spec: MetricSpec, inputs: Mapping[str, object],
                  cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
        """CUPED ratio estimates when every arm has covariate sums and the covariate varies, else delta method."""
        if cuped and all(isinstance(r, RatioCovariateSums) for r in inputs.values()) and any(
                r.sum_cc - r.sum_c**2 / max(r.n, 1) > 0 for r in inputs.values()):  # type: ignore[attr-defined]
            return cuped_ratio_estimates(inputs)  # type: ignore[arg-type]
        out = {}
        for v, p in inputs.items():
            if isinstance(p, RatioCovariateSums):
                out[v] = ratio_estimate(p.n, p.sum_y, p.sum_x, p.sum_yy, p.sum_xx, p.sum_xy)
            elif isinstance(p, PairSums):
                out[v] = ratio_estimate(p.n, p.sum_a, p.sum_b, p.sum_aa, p.sum_bb, p.sum_ab)
        return out, None
