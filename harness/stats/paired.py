"""Paired comparison of two candidates scored on the same examples.

- Binary metrics: McNemar's test on the discordant pairs, exact (binomial) when fewer than
  ``EXACT_BELOW`` discordant pairs, else the chi-square statistic without continuity correction
  (Edwards' correction is needlessly conservative once discordant pairs are many). The p-value
  formulas equal ``statsmodels.stats.contingency_tables.mcnemar`` (tests check to 1e-9); they are
  written out here so simulations can run them on arrays of many runs at once. Interval of the
  difference: Wald with the Agresti-Min adjustment (add 1/2 to each cell), which keeps coverage
  near nominal for small samples.
- Continuous metrics: Wilcoxon signed-rank (scipy) for the p-value, paired bootstrap for the
  interval of the mean difference (and a bootstrap p-value, reported alongside).

Effect sizes: Cohen's d_z (mean difference / SD of differences) for continuous metrics, the
discordant odds ratio (b/c) for binary ones. Functions return a frozen :class:`PairedResult`;
guards (length mismatch, no data) set ``error`` instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

EXACT_BELOW = 25
NAN = float("nan")


@dataclass(frozen=True)
class PairedResult:
    """Candidate A vs candidate B on one metric: means, difference (A - B) with interval, p-value."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    effect_size: float
    effect_size_name: str
    confidence: float = 0.95
    extra: tuple[tuple[str, float], ...] = ()
    error: str | None = None

    @property
    def ci(self) -> tuple[float, float]:
        """The interval of the difference as ``(low, high)``."""
        return (self.ci_low, self.ci_high)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN and infinities -> None)."""
        from harness.io import json_safe

        return json_safe({"n": self.n, "mean_a": self.mean_a, "mean_b": self.mean_b, "diff": self.diff,
                          "ci": [self.ci_low, self.ci_high], "p_value": self.p_value, "test": self.test,
                          "effect_size": self.effect_size, "effect_size_name": self.effect_size_name,
                          **dict(self.extra), "error": self.error})


def _failed(n: int, test: str, error: str, mean_a: float = NAN, mean_b: float = NAN) -> PairedResult:
    return PairedResult(n, mean_a, mean_b, mean_a - mean_b, NAN, NAN, NAN, test, NAN, "", error=error)


def _aligned(a: Sequence[float | None], b: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray] | None:
    if len(a) != len(b):
        return None
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def mcnemar_p_values(b: Any, c: Any, exact_below: int = EXACT_BELOW) -> np.ndarray:
    """McNemar p-values for arrays of discordant counts ``b`` (A right, B wrong) and ``c`` (the reverse).

    Exact two-sided binomial (``min(1, 2 * P[X <= min(b, c)])``) when ``b + c < exact_below``, else
    chi-square ``(b - c)^2 / (b + c)`` on 1 df; 1.0 when there are no discordant pairs.
    """
    from scipy.stats import binom, chi2

    b = np.asarray(b, dtype=float)
    c = np.asarray(c, dtype=float)
    m = b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.minimum(1.0, 2.0 * binom.cdf(np.minimum(b, c), m, 0.5))
        asymptotic = chi2.sf(np.where(m > 0, (b - c) ** 2 / np.where(m > 0, m, 1), 0.0), 1)
    p = np.where(m < exact_below, exact, asymptotic)
    return np.where(m == 0, 1.0, p)


def mcnemar_test(a: Sequence[float | None], b: Sequence[float | None], confidence: float = 0.95,
                 exact_below: int = EXACT_BELOW) -> PairedResult:
    """McNemar test for paired binary scores (0/1) of A and B; difference = mean(A) - mean(B)."""
    pair = _aligned(a, b)
    if pair is None:
        return _failed(0, "mcnemar", "length_mismatch")
    x, y = pair
    n = int(x.size)
    if n == 0:
        return _failed(0, "mcnemar", "no_data")
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        return _failed(n, "mcnemar", "not_binary", float(x.mean()), float(y.mean()))
    n10 = float(((x == 1) & (y == 0)).sum())
    n01 = float(((x == 0) & (y == 1)).sum())
    n11 = float(((x == 1) & (y == 1)).sum())
    n00 = n - n10 - n01 - n11
    p = float(mcnemar_p_values(n10, n01, exact_below))
    # Agresti-Min: add 0.5 to every cell of the 2x2 table, then a Wald interval for the difference.
    a10, a01, total = n10 + 0.5, n01 + 0.5, n + 2.0
    d_adj = (a10 - a01) / total
    se = math.sqrt(max(0.0, (a10 + a01) - (a10 - a01) ** 2 / total)) / total
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    diff = (n10 - n01) / n
    odds = n10 / n01 if n01 else (math.inf if n10 else NAN)
    test = "mcnemar_exact" if n10 + n01 < exact_below else "mcnemar_chi2"
    return PairedResult(n, float(x.mean()), float(y.mean()), diff, max(-1.0, d_adj - z * se), min(1.0, d_adj + z * se),
                        p, test, odds, "discordant_odds_ratio", confidence,
                        (("a_only", n10), ("b_only", n01), ("both", n11), ("neither", n00)))


def bootstrap_diff(d: np.ndarray, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95,
                   chunk: int = 500) -> tuple[float, float, float]:
    """Paired bootstrap of the mean difference: ``(ci_low, ci_high, p_value)``.

    Percentile interval of resampled means; two-sided p-value from the resampled means of the
    differences shifted to mean zero (the null), counting ``|mean*| >= |observed|``.
    """
    rng = np.random.default_rng(seed)
    n = d.size
    observed = float(d.mean())
    centred = d - observed
    means = np.empty(n_resamples)
    null_means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = d[idx].mean(axis=1)
        null_means[start:stop] = centred[idx].mean(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    # +1 smoothing keeps the p-value away from an impossible 0
    p = (1 + np.count_nonzero(np.abs(null_means) >= abs(observed) - 1e-12)) / (n_resamples + 1)
    return float(low), float(high), float(min(1.0, p))


def paired_continuous_test(a: Sequence[float | None], b: Sequence[float | None], confidence: float = 0.95,
                           n_resamples: int = 2000, seed: int = 0) -> PairedResult:
    """Wilcoxon signed-rank p-value + paired bootstrap interval for continuous scores (A - B)."""
    pair = _aligned(a, b)
    if pair is None:
        return _failed(0, "wilcoxon", "length_mismatch")
    x, y = pair
    n = int(x.size)
    if n < 2:
        return _failed(n, "wilcoxon", "too_few_units" if n else "no_data",
                       float(x.mean()) if n else NAN, float(y.mean()) if n else NAN)
    d = x - y
    mean_a, mean_b, diff = float(x.mean()), float(y.mean()), float(d.mean())
    if not np.any(d != 0):
        return PairedResult(n, mean_a, mean_b, 0.0, 0.0, 0.0, 1.0, "wilcoxon", 0.0, "cohen_dz", confidence,
                            error="no_difference")
    from scipy.stats import wilcoxon

    p = float(wilcoxon(x, y, zero_method="wilcox").pvalue)
    low, high, p_boot = bootstrap_diff(d, n_resamples, seed, confidence)
    sd = float(d.std(ddof=1))
    dz = diff / sd if sd > 0 else math.copysign(math.inf, diff)
    return PairedResult(n, mean_a, mean_b, diff, low, high, p, "wilcoxon", dz, "cohen_dz", confidence,
                        (("p_bootstrap", p_boot),))


def paired_test(a: Sequence[float | None], b: Sequence[float | None], kind: str = "continuous",
                confidence: float = 0.95, seed: int = 0) -> PairedResult:
    """McNemar for ``kind="binary"``, Wilcoxon + paired bootstrap otherwise."""
    if kind == "binary":
        return mcnemar_test(a, b, confidence)
    return paired_continuous_test(a, b, confidence, seed=seed)
