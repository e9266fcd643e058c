"""``quantile``: the ``quantile`` of request-level ``column`` (e.g. p95 latency) with a cluster-robust interval.

Three steps over an event source: the quantile per variant (:meth:`QuantileType.thresholds`), then,
with every other metric in one pass, each unit's count of events at or below it, then the order
statistics that bound its interval (Deng, Knoblich & Lu 2018, section 4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.ab.metric_types.base import MetricType, ab_metric_type
from harness.ab.sums import Pair, PairSums, QuantileArm, UnitValue
from harness.errors import ConfigError
from harness.stats.effects import ArmEstimate

if TYPE_CHECKING:
    from harness.ab.collect import EventSource
    from harness.ab.config import MetricSpec


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


@ab_metric_type("quantile")
class QuantileType(MetricType):
    """A request-level quantile per variant; per variant a :class:`~harness.ab.sums.QuantileArm`.

    Flags: ``NAME:quantile:COLUMN@0.95`` or ``NAME:p95:COLUMN``. Summary fields: ``estimate``, ``se``.
    """

    summary_keys = ("estimate", "se")

    def accepts_flag(self, kind: str) -> bool:
        """``quantile``, or ``pNN`` for the NN-th percentile."""
        return kind == self.name or re.fullmatch(r"p\d{1,2}", kind) is not None

    def flag_fields(self, name: str, kind: str, args: str | None, text: str) -> dict[str, Any]:
        """``COLUMN@LEVEL`` (level 0.95 by default), or the level from ``pNN``."""
        if kind != self.name:
            return {"column": args or None, "quantile": int(kind[1:]) / 100}
        column, _, q = (args or "").partition("@")
        try:
            return {"column": column or None, "quantile": float(q) if q else 0.95}
        except ValueError:
            raise ConfigError(f"--metric {text!r}: quantile {q!r} is not a number") from None

    def validate(self, spec: MetricSpec) -> None:
        """The level must lie strictly between 0 and 1."""
        if not 0 < spec.quantile < 1:
            raise ConfigError(f"metric {spec.name!r}: quantile must be between 0 and 1, got {spec.quantile}")

    @staticmethod
    def _le(spec: MetricSpec) -> UnitValue:
        return UnitValue("le", spec.source_column, spec.quantile)

    def thresholds(self, spec: MetricSpec, source: EventSource, variants: list[str],
                   alpha: float) -> dict[str, dict[str, float]]:
        """The quantile of each variant: the cut-off of the per-unit "events at or below" counts."""
        q = source.quantiles(spec.source_column, {v: [spec.quantile] for v in variants})
        return {self._le(spec).key: {v: vals[0] for v, vals in q.items()}}

    def pairs(self, spec: MetricSpec, covariate: str | None) -> list[Pair]:
        """(events at or below the quantile, events with a value) per unit."""
        return [Pair(self._le(spec), UnitValue("count", spec.source_column))]

    def arm_inputs(self, spec: MetricSpec, sums: Mapping[str, Sequence[PairSums]], *, source: EventSource,
                   thresholds: Mapping[str, Mapping[str, float]], alpha: float, cuped: bool) -> dict[str, object]:
        """The quantile per variant with the SE from the order statistics that bound its interval."""
        probs = {v: quantile_interval_probs(spec.quantile, s[0], alpha) for v, s in sums.items()}
        wanted = {v: list(b) for v, b in probs.items() if b is not None}
        bounds = source.quantiles(spec.source_column, wanted) if wanted else {}
        estimates = thresholds[self._le(spec).key]
        out: dict[str, object] = {}
        for v, s in sums.items():
            b = bounds.get(v)
            out[v] = quantile_arm(s[0].n, estimates.get(v, math.nan), (b[0], b[1]) if b else None, alpha)
        return out

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> QuantileArm:
        """``estimate`` and ``se`` as given."""
        return QuantileArm(n, values["estimate"], values["se"])

    def estimates(self, spec: MetricSpec, inputs: Mapping[str, object],
                  cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
        """The quantile with variance ``se^2`` and a normal reference (never CUPED)."""
        return {v: ArmEstimate(q.n, q.estimate, q.se**2 if math.isfinite(q.se) else math.nan, None)
                for v, q in inputs.items() if isinstance(q, QuantileArm)}, None
