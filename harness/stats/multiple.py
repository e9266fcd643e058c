"""Multiple-comparison correction shared by offline comparisons and A/B analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Correction = Literal["holm", "bh", "bonferroni", "none"]

_STATSMODELS_METHOD = {"holm": "holm", "bh": "fdr_bh", "bonferroni": "bonferroni"}


def adjust_p_values(p_values: Sequence[float], method: Correction = "holm") -> list[float]:
    """Return adjusted p-values (Holm family-wise, Benjamini-Hochberg FDR, Bonferroni, or none).

    NaN p-values (tests that could not run) stay NaN and do not count towards the family size.
    """
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = ~np.isnan(values)
    if method == "none" or not finite.any():
        adjusted[finite] = values[finite]
        return adjusted.tolist()
    if method not in _STATSMODELS_METHOD:
        raise ValueError(f"unknown correction {method!r}; choose holm, bh, bonferroni or none")
    from statsmodels.stats.multitest import multipletests

    adjusted[finite] = multipletests(values[finite], method=_STATSMODELS_METHOD[method])[1]
    return adjusted.tolist()
