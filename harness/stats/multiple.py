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
    if method == "holm":
        adjusted[finite] = _holm(values[finite])
        return adjusted.tolist()
    from statsmodels.stats.multitest import multipletests

    adjusted[finite] = multipletests(values[finite], method=_STATSMODELS_METHOD[method])[1]
    return adjusted.tolist()


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjustment (the numbers of statsmodels' ``multipletests(method="holm")``).

    Written out because statsmodels' Holm branch calls ``gc.collect()`` on every call (~0.2 s in a
    large process), and reports run one correction per metadata field or metric family.
    """
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.minimum(1.0, (m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return adjusted
