"""Multiple-comparison correction against statsmodels and textbook values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from harness.stats.multiple import adjust_p_values


@pytest.mark.parametrize("method,sm", [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_matches_statsmodels(method: str, sm: str) -> None:
    p = np.random.default_rng(1).uniform(0, 0.2, size=17)
    assert np.allclose(adjust_p_values(p, method), multipletests(p, method=sm)[1], atol=1e-12)


def test_holm_by_hand() -> None:
    # Holm: sorted p (0.01, 0.02, 0.04) * (3, 2, 1) -> 0.03, 0.04, 0.04 (monotone)
    assert adjust_p_values([0.04, 0.01, 0.02], "holm") == pytest.approx([0.04, 0.03, 0.04])


def test_nan_is_kept_and_not_counted() -> None:
    out = adjust_p_values([0.01, float("nan"), 0.02], "bonferroni")
    assert out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04) and math.isnan(out[1])


def test_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown correction"):
        adjust_p_values([0.1], "nope")  # type: ignore[arg-type]
