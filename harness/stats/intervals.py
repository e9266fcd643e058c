"""Confidence intervals for a metric mean: Wilson (proportions), t and BCa bootstrap (bounded scores).

Every function returns a frozen :class:`Interval`; when a guard fails (no data, one unit) it returns
an interval with ``error`` set and NaN bounds instead of raising, gbstats-style, so a report can show
"n/a (too_few_units)" next to the other numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

IntervalMethod = Literal["wilson", "t", "bca", "auto"]
NAN = float("nan")


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval; ``error`` names a failed guard (bounds are NaN)."""

    estimate: float
    low: float
    high: float
    n: int
    method: str
    confidence: float = 0.95
    error: str | None = None

    def as_list(self) -> list[float | None]:
        """``[low, high]`` with NaN (and infinities) as ``None`` (JSON-ready)."""
        from harness.io import json_safe

        return json_safe([self.low, self.high])


def _z(confidence: float) -> float:
    # scipy.stats.norm.ppf and t.ppf are these scipy.special functions (the same numbers); importing
    # scipy.special alone takes a quarter of the time of scipy.stats (harness score's start-up)
    from scipy.special import ndtri

    return float(ndtri(0.5 + confidence / 2))


def _t_quantile(p: float, df: int) -> float:
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion ``successes / n`` (same as statsmodels ``method="wilson"``)."""
    if n <= 0:
        return Interval(NAN, NAN, NAN, 0, "wilson", confidence, "no_data")
    p = successes / n
    z = _z(confidence)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n, "wilson", confidence)


def t_interval_from_stats(n: int, total: float, total_sq: float, confidence: float = 0.95) -> Interval:
    """Student-t interval for a mean from sufficient statistics (n, sum, sum of squares)."""
    if n <= 0:
        return Interval(NAN, NAN, NAN, 0, "t", confidence, "no_data")
    mean = total / n
    if n < 2:
        return Interval(mean, NAN, NAN, n, "t", confidence, "too_few_units")
    # sum of squares form; clip tiny negative values from cancellation
    variance = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    if variance == 0.0:
        return Interval(mean, mean, mean, n, "t", confidence, "zero_variance")
    half = _t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half, n, "t", confidence)


def t_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Student-t interval for the mean of ``values`` (two-pass variance for accuracy)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n < 2:
        return t_interval_from_stats(n, float(x.sum()), float((x * x).sum()), confidence)
    mean = float(x.mean())
    variance = float(x.var(ddof=1))
    if variance == 0.0:
        return Interval(mean, mean, mean, n, "t", confidence, "zero_variance")
    half = _t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return Interval(mean, mean - half, mean + half, n, "t", confidence)


def bca_interval(values: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> Interval:
    """BCa bootstrap interval for the mean (``scipy.stats.bootstrap``, seeded, reproducible)."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = int(x.size)
    if n == 0:
        return Interval(NAN, NAN, NAN, 0, "bca", confidence, "no_data")
    mean = float(x.mean())
    if n < 3:
        return Interval(mean, NAN, NAN, n, "bca", confidence, "too_few_units")
    if float(x.min()) == float(x.max()):
        return Interval(mean, mean, mean, n, "bca", confidence, "zero_variance")
    from scipy.stats import bootstrap

    result = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples, method="BCa",
                       rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):
        return Interval(mean, NAN, NAN, n, "bca", confidence, "degenerate_bootstrap")
    return Interval(mean, low, high, n, "bca", confidence)


def clip(interval: Interval, bounds: tuple[float, float] | None) -> Interval:
    """``interval`` with its bounds clipped to the score range ``bounds`` (a mean cannot leave it)."""
    if bounds is None or interval.error and math.isnan(interval.low):
        return interval
    low, high = max(bounds[0], interval.low), min(bounds[1], interval.high)
    if (low, high) == (interval.low, interval.high):
        return interval
    return Interval(interval.estimate, low, high, interval.n, interval.method, interval.confidence, interval.error)


def mean_interval(values: Sequence[float | None], kind: str = "continuous", method: IntervalMethod = "auto",
                  confidence: float = 0.95, bounds: tuple[float, float] | None = None) -> Interval:
    """Interval for the mean of the non-null ``values``: Wilson for binary, t (or BCa) for continuous.

    ``bounds`` (the score range of a bounded metric) clips a t interval that would leave it.
    """
    present = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    chosen = method if method != "auto" else ("wilson" if kind == "binary" else "t")
    if chosen == "wilson":
        if any(v not in (0.0, 1.0) for v in present):
            return Interval(NAN, NAN, NAN, len(present), "wilson", confidence, "not_binary")
        return wilson_interval(sum(present), len(present), confidence)
    if chosen == "bca":
        return clip(bca_interval(present, confidence), bounds)
    return clip(t_interval(present, confidence), bounds)
