"""Non-inferiority (forgetting) check: is the candidate at most ``margin`` worse than the base model?

Paired on the same examples (the ``general`` set), d = candidate - base. One-sided paired t-test of
H0: mean(d) <= -margin against H1: mean(d) > -margin; equivalently, pass when the lower bound of the
two-sided (1 - 2 alpha) interval of mean(d) is above -margin. For 0/1 metrics the t-test on paired
differences is the large-sample Wald test of the paired difference in proportions.
:func:`equivalence_test` is TOST (both sides, ``statsmodels.stats.weightstats.ttost_paired``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

NAN = float("nan")


@dataclass(frozen=True)
class NonInferiorityResult:
    """Outcome of a non-inferiority test: pass/fail, the difference and its (1 - 2 alpha) interval."""

    passed: bool
    diff: float
    ci_low: float
    ci_high: float
    margin: float
    p_value: float
    n: int
    alpha: float
    test: str
    error: str | None = None

    @property
    def status(self) -> str:
        """``PASS`` (non-inferior), ``FAIL`` (worse by more than the margin), ``INCONCLUSIVE`` or ``N/A``."""
        if self.error and math.isnan(self.ci_low):
            return "N/A"
        if self.passed:
            return "PASS"
        return "FAIL" if self.ci_high < -self.margin else "INCONCLUSIVE"

    def describe(self, candidate: str = "candidate", base: str = "base", metric: str = "score") -> str:
        """A plain-language sentence for reports."""
        if self.status == "N/A":
            return f"forgetting check {candidate} vs {base} on {metric}: not computed ({self.error})"
        verdict = self.status
        return (f"forgetting check {verdict}: {candidate} vs {base} on {metric}: {self.diff:+.3f} "
                f"[{self.ci_low:+.3f}, {self.ci_high:+.3f}] ({100 * (1 - 2 * self.alpha):.0f}% CI), "
                f"margin -{self.margin:.3f}, p={self.p_value:.3g}")


def _differences(candidate: Sequence[float | None], base: Sequence[float | None]) -> np.ndarray | None:
    if len(candidate) != len(base):
        return None
    pairs = [(c, b) for c, b in zip(candidate, base, strict=True) if c is not None and b is not None]
    return np.array([c - b for c, b in pairs], dtype=float)


def noninferiority_test(candidate: Sequence[float | None], base: Sequence[float | None], margin: float,
                        alpha: float = 0.05) -> NonInferiorityResult:
    """One-sided paired t-test that the candidate is not worse than base by more than ``margin``."""
    d = _differences(candidate, base)
    if d is None:
        return NonInferiorityResult(False, NAN, NAN, NAN, margin, NAN, 0, alpha, "paired_t", "length_mismatch")
    n = int(d.size)
    if margin < 0:
        return NonInferiorityResult(False, NAN, NAN, NAN, margin, NAN, n, alpha, "paired_t", "negative_margin")
    if n < 2:
        return NonInferiorityResult(False, float(d.mean()) if n else NAN, NAN, NAN, margin, NAN, n, alpha,
                                    "paired_t", "too_few_units" if n else "no_data")
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0.0:
        passed = mean > -margin
        return NonInferiorityResult(passed, mean, mean, mean, margin, 0.0 if passed else 1.0, n, alpha,
                                    "paired_t", "zero_variance")
    from scipy.stats import t

    p = float(t.sf((mean + margin) / se, n - 1))
    q = float(t.ppf(1 - alpha, n - 1))
    low, high = mean - q * se, mean + q * se
    return NonInferiorityResult(p < alpha, mean, low, high, margin, p, n, alpha, "paired_t")


def equivalence_test(candidate: Sequence[float | None], base: Sequence[float | None], margin: float,
                     alpha: float = 0.05) -> NonInferiorityResult:
    """TOST: pass when the difference is within ``(-margin, +margin)``; p is the larger one-sided p."""
    d = _differences(candidate, base)
    if d is None or d.size < 2 or float(d.std(ddof=1)) == 0.0 or margin <= 0:
        error = "length_mismatch" if d is None else ("invalid_margin" if margin <= 0 else
                                                    ("too_few_units" if d.size < 2 else "zero_variance"))
        return NonInferiorityResult(False, NAN, NAN, NAN, margin, NAN, 0 if d is None else int(d.size), alpha,
                                    "tost_paired", error)
    from scipy.stats import t

    n = int(d.size)
    mean = float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(n)
    p_lower = float(t.sf((mean + margin) / se, n - 1))
    p_upper = float(t.cdf((mean - margin) / se, n - 1))
    p = max(p_lower, p_upper)
    q = float(t.ppf(1 - alpha, n - 1))
    return NonInferiorityResult(p < alpha, mean, mean - q * se, mean + q * se, margin, p, n, alpha, "tost_paired")
