"""Many-candidate comparisons: corrected p-values and the ranking."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from harness.stats.ranking import compare_candidates


def _scores(seed: int = 0, n: int = 120):
    rng = np.random.default_rng(seed)
    base = rng.beta(3, 3, size=n)
    noise = lambda: rng.normal(0, 0.05, size=n)  # noqa: E731
    quality = {"base": 0.0, "same": 0.0, "better": 0.12}
    scores = {}
    for name, shift in quality.items():
        cont = np.clip(base + shift + noise(), 0, 1)
        binary = (rng.random(n) < np.clip(base + shift, 0, 1)).astype(float)
        scores[name] = {("test", "rougeL"): list(cont), ("test", "exact_match"): list(binary),
                        ("general", "rougeL"): list(np.clip(base + noise(), 0, 1))}
    return scores


KINDS = {"rougeL": "continuous", "exact_match": "binary"}


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_adjusted_p_values_match_statsmodels(correction: str) -> None:
    result = compare_candidates(_scores(), KINDS, baseline="base", correction=correction)
    raw = [r.result.p_value for r in result.comparisons]
    method = "holm" if correction == "holm" else "fdr_bh"
    assert [r.adjusted_p for r in result.comparisons] == pytest.approx(list(multipletests(raw, method=method)[1]), abs=1e-12)
    assert len(result.comparisons) == 2 * 3  # two candidates x three (dataset, metric)


def test_directions_and_ranking() -> None:
    result = compare_candidates(_scores(1), KINDS, baseline="base")
    by = {(r.candidate, r.dataset, r.metric): r for r in result.comparisons}
    assert by[("better", "test", "rougeL")].direction == "better"
    assert by[("same", "test", "rougeL")].direction == "no_difference"
    assert by[("better", "general", "rougeL")].direction == "no_difference"
    ranks = [e for e in result.ranking if (e.dataset, e.metric) == ("test", "rougeL")]
    assert ranks[0].candidate == "better" and ranks[0].rank == 1
    assert not any(e.tied_with_best for e in ranks[1:])
    from scipy import stats

    better = np.asarray(_scores(1)["better"][("test", "rougeL")])  # the same seed: the same scores
    low, high = stats.t.interval(0.95, len(better) - 1, loc=better.mean(), scale=stats.sem(better))
    interval = ranks[0].interval
    assert (interval.low, interval.estimate, interval.high) == pytest.approx((low, better.mean(), high), abs=1e-9)


def test_lower_is_better_and_all_pairs() -> None:
    scores = {"fast": {("test", "latency"): [0.1, 0.2, 0.15, 0.12] * 10},
              "slow": {("test", "latency"): [0.9, 1.1, 0.8, 1.0] * 10}}
    result = compare_candidates(scores, {"latency": "continuous"}, higher_is_better={"latency": False})
    (row,) = result.comparisons
    assert (row.candidate, row.baseline, row.direction) == ("fast", "slow", "better")
    assert result.ranking[0].candidate == "fast"
