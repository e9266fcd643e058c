"""Sample-ratio mismatch: are units split across variants as the configured weights say?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

#: The conventional threshold: an SRM at p < 0.001 means the assignment or logging is broken.
SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """Chi-square goodness-of-fit of observed unit counts against the expected split."""

    chi2: float
    p_value: float
    flag: bool
    observed: tuple[int, ...]
    expected: tuple[float, ...]
    error: str | None = None


def srm_check(observed: Sequence[int], weights: Sequence[float] | None = None, *,
              threshold: float = SRM_THRESHOLD) -> SrmResult:
    """Return the SRM chi-square test (``scipy.stats.chisquare``) of ``observed`` against ``weights``.

    Weights are normalised (equal split when ``None``); ``flag`` is true when ``p < threshold``.
    Fewer than two variants or no units gives a neutral, unflagged result with an error code.
    """
    counts = tuple(int(c) for c in observed)
    total = sum(counts)
    if len(counts) < 2 or total == 0:
        return SrmResult(math.nan, math.nan, False, counts, (), "too_few_variants" if len(counts) < 2
                         else "no_units")
    w = [1.0] * len(counts) if weights is None else [float(x) for x in weights]
    if len(w) != len(counts) or any(x <= 0 for x in w):
        return SrmResult(math.nan, math.nan, False, counts, (), "bad_weights")
    expected = tuple(total * x / sum(w) for x in w)
    from scipy.stats import chisquare

    chi2, p = chisquare(counts, expected)
    return SrmResult(float(chi2), float(p), bool(p < threshold), counts, expected)


def _period_check(observed: Sequence[int], weights: Sequence[float]) -> SrmResult:
    """One constant-weight period: the chi-square over the variants with a weight above 0.

    A unit counted on a variant whose weight was 0 cannot come from the assignment: chi2 = inf, p = 0.
    """
    counts = tuple(int(c) for c in observed)
    w = [max(float(x), 0.0) for x in weights]
    live = [i for i, x in enumerate(w) if x > 0]
    total = sum(counts)
    if total == 0:
        return SrmResult(math.nan, math.nan, False, counts, (), "no_units")
    expected = tuple(total * x / sum(w) if sum(w) > 0 else 0.0 for x in w)
    if any(counts[i] > 0 for i in range(len(counts)) if i not in live):
        return SrmResult(math.inf, 0.0, True, counts, expected)
    if len(live) < 2:
        return SrmResult(math.nan, math.nan, False, counts, expected, "too_few_variants")
    from scipy.stats import chisquare

    chi2, p = chisquare([counts[i] for i in live], [expected[i] for i in live])
    return SrmResult(float(chi2), float(p), False, counts, expected)


def srm_check_periods(periods: Sequence[tuple[Sequence[int], Sequence[float]]], *,
                      threshold: float = SRM_THRESHOLD) -> tuple[SrmResult, tuple[SrmResult, ...]]:
    """Return the SRM check of an experiment whose weights changed, and each period's own test.

    ``periods`` holds, per constant-weight period, the units seen in that period per variant and the
    weights in force then. Each period is a chi-square test (``scipy.stats.chisquare``) of its units
    against its own weights: under a correct sticky assignment a unit's variant in a period depends
    only on its hash bucket and that period's weights, so the units active in the period split
    multinomially by those weights, whatever happened in earlier periods. (Pooling instead, by each
    unit's first exposure against the weights of that moment, is biased by design: when a candidate
    ramps from 5% to 50% next to a 50% control, the returning units that were not enrolled before all
    land in the candidate, an SRM that is not one.) A unit active in several periods counts in each,
    so the period tests are dependent; they are combined with Bonferroni (valid under any
    dependence): ``p = min(1, m * min p)`` over the ``m`` periods that could be tested.

    The combined result carries the deciding (smallest-p) period's ``chi2``, ``observed`` and
    ``expected``, the adjusted ``p_value``, and ``flag = p < threshold``; periods without units are
    skipped. A single period is exactly :func:`srm_check` (when every weight is above 0).
    """
    results = tuple(_period_check(o, w) for o, w in periods)
    tested = [r for r in results if r.error is None]
    if not tested:
        first = results[0] if results else SrmResult(math.nan, math.nan, False, (), (), "no_units")
        return SrmResult(math.nan, math.nan, False, first.observed, first.expected, first.error or "no_units"), results
    worst = min(tested, key=lambda r: r.p_value)
    p = min(1.0, len(tested) * worst.p_value)
    combined = SrmResult(worst.chi2, p, bool(p < threshold), worst.observed, worst.expected)
    return combined, tuple(replace(r, flag=bool(r.error is None and r.p_value < threshold)) for r in results)
