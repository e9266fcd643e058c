"""Agreement, win-rate and rank-correlation statistics against their reference libraries and by simulation."""

from __future__ import annotations

import math
from functools import cache

import krippendorff
import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.multitest import multipletests

from harness.stats.agreement import (
    AgreementResult,
    CorrelationResult,
    cohen_kappa,
    field_agreement,
    fleiss_kappa,
    krippendorff_alpha,
    rank_correlation,
    ratings_matrix,
    spearman_interval,
    tie_score_interval,
    win_rate,
    win_rates,
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 4 coders x 12 units example:
# alpha = 0.743 nominal (and 0.815 ordinal with the `krippendorff` package).
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Fleiss (1971) as on Wikipedia: 10 subjects, 14 raters, counts per category 1..5; kappa = 0.210.
FLEISS_TABLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def _matrix_from_counts(table: list[list[int]]) -> list[list[int]]:
    """Raters x items: item i's ratings spread over the raters in category order."""
    columns = [[cat + 1 for cat, count in enumerate(row) for _ in range(count)] for row in table]
    return [list(r) for r in zip(*columns, strict=True)]


def test_cohen_kappa_unweighted_matches_sklearn_and_the_textbook_value() -> None:
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    result = cohen_kappa(a, b)
    assert result.value == pytest.approx(0.4, abs=1e-12)
    assert result.value == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert (result.method, result.n_items, result.n_reviewers, result.error) == ("cohen_kappa", 50, 2, None)
    assert result.description == "Cohen's kappa (unweighted)" and result.reading == "fair"


def test_cohen_kappa_quadratic_uses_the_whole_scale() -> None:
    a = [1, 1, 2, 5, 5, 4, 1, 5, None, 2]
    b = [1, 2, 2, 4, 5, 5, 2, 5, 3, None]
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    want = cohen_kappa_score(*zip(*pairs, strict=True), weights="quadratic", labels=[1, 2, 3, 4, 5])
    result = cohen_kappa(a, b, level="ordinal")
    assert result.value == pytest.approx(want, abs=1e-12)
    assert result.method == "cohen_kappa_quadratic" and result.n_items == 8
    # no one used 3: without the full scale, sklearn's position-based weights would put 2 and 4 next to each other
    gapped = cohen_kappa_score(*zip(*pairs, strict=True), weights="quadratic")
    assert gapped != pytest.approx(want, abs=1e-6)
    assert cohen_kappa(a, b, level="ordinal", categories=[1, 2, 3, 4, 5, 6, 7]).value == pytest.approx(
        cohen_kappa_score(*zip(*pairs, strict=True), weights="quadratic", labels=list(range(1, 8))), abs=1e-12)


def test_cohen_kappa_guards() -> None:
    assert cohen_kappa([1, 1, 1], [1, 1, 1]).error == "no_variance"
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]).value)
    assert cohen_kappa([1, None, 0], [None, 1, 1]).error == "too_few_items"
    assert cohen_kappa([1, 0], [1]).error == "length_mismatch"
    assert cohen_kappa([True, False, True], [True, False, False]).value == pytest.approx(
        cohen_kappa_score([1, 0, 1], [1, 0, 0]), abs=1e-12)


@pytest.mark.parametrize(("value", "reading"), [(0.85, "almost perfect"), (0.8, "substantial"), (0.5, "moderate"),
                                                (0.3, "fair"), (0.0, "slight"), (-0.1, "poor (below chance)")])
def test_kappa_readings_follow_landis_and_koch(value: float, reading: str) -> None:
    assert AgreementResult(value, "fleiss_kappa", 10, 3, "nominal").reading == reading
    assert AgreementResult(value, "fleiss_kappa", 0, 0, "nominal", "no_variance").reading == "n/a (no_variance)"


def test_fleiss_kappa_matches_statsmodels_and_fleiss_1971() -> None:
    matrix = _matrix_from_counts(FLEISS_TABLE)
    result = fleiss_kappa(matrix)
    assert result.value == pytest.approx(sm_fleiss_kappa(np.array(FLEISS_TABLE)), abs=1e-12)
    assert round(result.value, 3) == 0.210
    assert (result.n_items, result.n_reviewers, result.method) == (10, 14, "fleiss_kappa")
    assert result.reading == "fair"


def test_fleiss_kappa_uses_items_with_the_common_number_of_ratings() -> None:
    matrix = [
        [1, 2, 1, 2, 1, None],
        [1, 2, 2, 2, None, 1],
        [1, 1, 2, None, 2, None],
    ]
    result = fleiss_kappa(matrix)
    table, _ = aggregate_raters(np.array([[1, 1, 1], [2, 2, 1], [1, 2, 2]]))
    assert result.n_items == 3 and result.value == pytest.approx(sm_fleiss_kappa(table), abs=1e-12)
    assert fleiss_kappa([[1, None], [None, 2]]).error == "too_few_raters_per_item"
    assert fleiss_kappa([[1, 1], [1, 1], [1, 1]]).error == "no_variance"
    assert fleiss_kappa([[1, None], [2, None]]).error == "too_few_items"


def test_krippendorff_alpha_matches_the_package_and_the_published_example() -> None:
    data = np.array([[np.nan if v is None else v for v in row] for row in KRIPPENDORFF_EXAMPLE], dtype=float)
    nominal = krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level="nominal")
    ordinal = krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level="ordinal")
    assert round(nominal.value, 3) == 0.743 and round(ordinal.value, 3) == 0.815
    assert nominal.value == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    assert ordinal.value == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))
    # unit 12 has a single rating: alpha rests on the 11 pairable units
    assert (nominal.n_items, nominal.n_reviewers, nominal.method) == (11, 4, "krippendorff_alpha_nominal")
    assert ordinal.reading == "reliable" and nominal.reading == "tentative"


def test_krippendorff_alpha_guards() -> None:
    assert krippendorff_alpha([[1, None], [None, 1]]).error == "too_few_raters_per_item"
    assert krippendorff_alpha([[1, 1], [1, 1]]).error == "no_variance"
    assert isinstance(krippendorff_alpha([[1, 1], [1, 1]]), AgreementResult)


def test_field_agreement_picks_cohen_for_two_reviewers_and_fleiss_for_more() -> None:
    two = [[1, 2, 3, 4, None], [1, 3, 3, 5, 2], [None] * 5]  # an empty row is not a reviewer
    kappa, alpha = field_agreement(two, level="ordinal")
    assert kappa.method == "cohen_kappa_quadratic" and alpha.method == "krippendorff_alpha_ordinal"
    assert kappa.n_items == 4
    three = _matrix_from_counts(FLEISS_TABLE)[:3]
    kappa, alpha = field_agreement(three, level="nominal")
    assert kappa.method == "fleiss_kappa" and alpha.method == "krippendorff_alpha_nominal"
    assert kappa.n_reviewers == 3 and alpha.n_items == 10


def test_ratings_matrix_from_triples() -> None:
    matrix, reviewers, items = ratings_matrix([("ann", "i1", 4), ("bob", "i1", 5), ("ann", "i2", True),
                                               ("bob", "i3", None), ("bob", "i2", 2)])
    assert reviewers == ["ann", "bob"] and items == ["i1", "i2"]
    assert matrix == [[4.0, 1.0], [5.0, 2.0]]


def test_win_rate_counts_ties_as_half_with_the_sign_test() -> None:
    result = win_rate(8, 2, 5, candidate_a="tuned", candidate_b="base")
    assert result.win_rate == pytest.approx((8 + 2.5) / 15)
    # exact two-sided sign test on the 10 decisive comparisons: 2 * P(X >= 8) = 2 * 56 / 1024
    assert result.p_value == pytest.approx(112 / 1024, abs=1e-12)
    assert result.p_value == pytest.approx(stats.binomtest(8, 10).pvalue, abs=1e-12)
    assert result.n == 15 and result.ci_low < result.win_rate < result.ci_high
    assert "ties excluded (n_ties=5)" in result.method and result.test == "sign_test_exact"
    assert result.as_dict()["ci"] == [result.ci_low, result.ci_high]


def test_tie_score_interval_is_wilson_without_ties_and_narrower_with_them() -> None:
    from statsmodels.stats.proportion import proportion_confint

    low, high = tie_score_interval(14 / 20, 20, 0.0)
    assert (low, high) == pytest.approx(proportion_confint(14, 20, method="wilson"), abs=1e-12)
    # same win rate 0.7, but 12 of 20 as ties-as-half: less spread, narrower interval
    with_ties = tie_score_interval(0.7, 20, 0.4)
    assert with_ties[1] - with_ties[0] < high - low
    # the interval is the set of p whose score statistic is within z
    z = stats.norm.ppf(0.975)
    for p in with_ties:
        assert (0.7 - p) ** 2 == pytest.approx(z * z * (p * (1 - p) - 0.4 / 4) / 20, abs=1e-12)


def test_win_rate_guards() -> None:
    assert win_rate(0, 0, 0).error == "no_data"
    all_ties = win_rate(0, 0, 7)
    assert all_ties.error == "all_ties" and all_ties.win_rate == 0.5 and math.isnan(all_ties.p_value)
    assert win_rate(-1, 2, 0).error == "negative_count"


def test_win_rates_are_holm_adjusted_together() -> None:
    counts = [("a", "b", 30, 10, 10), ("a", "c", 14, 6, 3), ("b", "c", 9, 11, 0), ("c", "d", 0, 0, 4)]
    results = win_rates(counts)
    raw = [r.p_value for r in results[:3]]
    assert [r.p_adjusted for r in results[:3]] == pytest.approx(multipletests(raw, method="holm")[1].tolist())
    assert math.isnan(results[3].p_adjusted)  # all ties: no test, not counted in the family
    assert results[0].p_adjusted > results[0].p_value


@cache
def _sign_p(wins_a: int, decisive: int) -> float:
    return float(stats.binomtest(wins_a, decisive).pvalue) if decisive else math.nan


def test_sign_test_false_positive_rate_under_no_preference_with_ties() -> None:
    rng = np.random.default_rng(7)
    counts = rng.multinomial(40, [0.3, 0.3, 0.4], size=4000)
    p = np.array([_sign_p(int(a), int(a + b)) for a, b, _t in counts])
    rate = float(np.mean(p < 0.05))
    assert 0.01 < rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 4000)  # exact test: at or below alpha
    # and it has power when the preference is real
    strong = rng.multinomial(40, [0.5, 0.2, 0.3], size=1000)
    assert np.mean([_sign_p(int(a), int(a + b)) < 0.05 for a, b, _t in strong]) > 0.5


@pytest.mark.parametrize(("probs", "n"), [((0.3, 0.3, 0.4), 40), ((0.6, 0.1, 0.3), 30), ((0.2, 0.1, 0.7), 50),
                                          ((0.9, 0.05, 0.05), 20), ((0.5, 0.5, 0.0), 25)])
def test_win_rate_interval_coverage(probs: tuple[float, float, float], n: int) -> None:
    rng = np.random.default_rng(11)
    truth = probs[0] + probs[2] / 2
    counts = rng.multinomial(n, probs, size=4000)
    hits = [tie_score_interval((a + t / 2) / n, n, t / n) for a, _b, t in counts]
    coverage = float(np.mean([low <= truth <= high for low, high in hits]))
    assert 0.93 <= coverage <= 0.975, coverage


def test_rank_correlation_matches_scipy_with_the_bonett_wright_interval() -> None:
    metric = [0.1, 0.4, 0.35, 0.8, 0.7, None, 0.2, 0.9, 0.5, 0.65]
    human = [1, 3, 2, 5, 4, 5, 1, 4, None, 3]
    pairs = [(m, h) for m, h in zip(metric, human, strict=True) if m is not None and h is not None]
    want = stats.spearmanr(*zip(*pairs, strict=True))
    result = rank_correlation(metric, human)
    assert result.rho == pytest.approx(want.statistic, abs=1e-12) and result.n == 8
    assert result.p_value == pytest.approx(want.pvalue, abs=1e-12)
    z, se = math.atanh(result.rho), math.sqrt((1 + result.rho ** 2 / 2) / (8 - 3))
    assert (result.ci_low, result.ci_high) == pytest.approx((math.tanh(z - 1.959964 * se),
                                                             math.tanh(z + 1.959964 * se)), abs=1e-6)
    assert result.interval_method == "fisher_z_bonett_wright"


def test_rank_correlation_guards_and_readings() -> None:
    assert rank_correlation([1, 2, 3], [1, 2, 3]).error == "too_few_items"
    assert rank_correlation([1, 1, 1, 1, 1], [1, 2, 3, 4, 5]).error == "no_variance"
    assert rank_correlation([1, 2], [1]).error == "length_mismatch"
    assert spearman_interval(1.0, 10) == (1.0, 1.0)
    strong = CorrelationResult(0.85, 0.6, 0.95, 40, 0.0)
    assert strong.reading.startswith("strong")
    assert CorrelationResult(0.5, 0.2, 0.7, 40, 0.01).reading.startswith("moderate")
    assert CorrelationResult(0.25, 0.05, 0.45, 80, 0.03).reading.startswith("weak")
    assert CorrelationResult(0.1, -0.2, 0.4, 40, 0.5).reading == "no evidence of agreement"
    assert CorrelationResult(-0.6, -0.8, -0.3, 40, 0.001).reading == "disagrees with reviewers"
    assert rank_correlation([1, 2, 3], [1, 2, 3]).reading == "n/a (too_few_items)"


@pytest.mark.parametrize(("rho", "n"), [(0.6, 30), (0.0, 20), (0.85, 15)])
def test_spearman_interval_coverage(rho: float, n: int) -> None:
    rng = np.random.default_rng(3)
    truth = 6 / math.pi * math.asin(rho / 2)  # Spearman's rho of a bivariate normal
    draws = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=(1500, n))
    ranks = stats.rankdata(draws, axis=1)  # Spearman's rho = Pearson's r of the ranks, all samples at once
    centred = ranks - ranks.mean(axis=1, keepdims=True)
    r = (centred[..., 0] * centred[..., 1]).sum(1) / np.sqrt((centred ** 2).sum(1).prod(-1))
    assert r[0] == pytest.approx(stats.spearmanr(draws[0]).statistic, abs=1e-12)
    hits = 0
    for value in r:
        low, high = spearman_interval(float(value), n)
        hits += low <= truth <= high
    assert 0.93 <= hits / 1500 <= 0.975, hits / 1500
