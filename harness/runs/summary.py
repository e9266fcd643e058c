"""Per-metric means and 95% intervals for a run's summary (pure functions over score lists)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MeanSummary:
    """Mean of the non-missing values, its 95% interval and how many values it used."""

    mean: float | None
    ci: tuple[float, float] | None
    n: int

    def as_dict(self) -> dict[str, object]:
        """The ``{"mean", "ci", "n"}`` object of ``summary.json``."""
        return {"mean": self.mean, "ci": list(self.ci) if self.ci else None, "n": self.n}


def _is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def summarize(values: Sequence[float | None], *, kind: str | None = None, confidence: float = 0.95) -> MeanSummary:
    """Mean and interval: Wilson for 0/1 metrics (exact-match style), Student t otherwise.

    Wilson rather than the normal approximation because eval sets are small and accuracies
    often sit near 0 or 1, where the Wald interval collapses to a point.
    """
    clean = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(clean)
    if n == 0:
        return MeanSummary(None, None, 0)
    mean = sum(clean) / n
    if kind == "binary" or (kind is None and _is_binary(clean)):
        from scipy.stats import binomtest

        k = int(round(sum(clean)))
        ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        return MeanSummary(mean, (float(ci.low), float(ci.high)), n)
    if n == 1:
        return MeanSummary(mean, None, 1)
    from scipy import stats

    sd = stats.tstd(clean)
    if sd == 0:
        return MeanSummary(mean, (mean, mean), n)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return MeanSummary(mean, (float(low), float(high)), n)
