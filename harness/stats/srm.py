"""Sample-ratio mismatch: are units split across variants as the configured weights say?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
