"""Statistics of human review: inter-reviewer agreement, pairwise win rates, metric-human correlation.

Pure functions over plain lists; the reference libraries do the arithmetic (imported lazily):

- Agreement on one rubric field, from a ratings matrix (reviewers x items, ``None`` where a reviewer
  did not rate an item; the layout of ``krippendorff.alpha``'s ``reliability_data``):
  Cohen's kappa (``sklearn.metrics.cohen_kappa_score``; quadratic weights for ordinal scales,
  unweighted for yes/no), Fleiss' kappa (``statsmodels`` ``fleiss_kappa`` over ``aggregate_raters``;
  categories are nominal) and Krippendorff's alpha (``krippendorff.alpha``, ordinal or nominal).
  Each returns a frozen :class:`AgreementResult` with the number of items it rests on (items with at
  least two ratings) and an ``error`` code instead of raising when it cannot be computed.
- Pairwise win rate of A over B from counts (wins, losses, ties): ties count as half; interval: a
  Wilson-type score interval whose variance knows ties (:func:`tie_score_interval`); test: exact sign
  test on the decisive comparisons (``scipy.stats.binomtest``), ties excluded and reported; Holm
  across pairs.
- Rank correlation of an automatic metric with human scores: Spearman (``scipy.stats.spearmanr``)
  with a Fisher-z interval using the Bonett-Wright (2000) variance ``(1 + rho^2 / 2) / (n - 3)``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

Level = Literal["nominal", "ordinal"]
Rating = float | int | bool | None
NAN = float("nan")

#: Spearman rho at or above this, with an interval low end at or above ``STAND_IN_LOW``: the metric can
#: stand in for reviewers (rank items as they would).
STAND_IN_RHO = 0.7
STAND_IN_LOW = 0.5
#: Spearman rho at or above this (interval above 0): a useful screen, not a stand-in.
MODERATE_RHO = 0.4

WIN_RATE_INTERVAL = "wilson_ties"
WIN_RATE_TEST = "sign_test_exact"
CORRELATION_INTERVAL = "fisher_z_bonett_wright"


@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient on one field; ``error`` names a failed guard (``value`` is NaN)."""

    value: float
    method: str           # cohen_kappa | cohen_kappa_quadratic | fleiss_kappa | krippendorff_alpha_<level>
    n_items: int          # items with at least two ratings that the figure rests on
    n_reviewers: int
    level: str            # nominal | ordinal
    error: str | None = None

    @property
    def description(self) -> str:
        """The method in words, e.g. "Cohen's kappa (quadratic weights)"."""
        return _METHOD_NAMES.get(self.method, self.method)

    @property
    def reading(self) -> str:
        """Plain-language band: Landis & Koch for kappas, Krippendorff's 0.667 / 0.8 cut-offs for alpha."""
        if self.error or math.isnan(self.value):
            return f"n/a ({self.error or 'undefined'})"
        if self.method.startswith("krippendorff"):
            return "reliable" if self.value >= 0.8 else "tentative" if self.value >= 0.667 else "unreliable"
        bands = ((0.8, "almost perfect"), (0.6, "substantial"), (0.4, "moderate"), (0.2, "fair"))
        return next((name for cut, name in bands if self.value > cut),
                    "slight" if self.value >= 0 else "poor (below chance)")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None) with the method's description and reading."""
        from harness.io import json_safe

        return json_safe({"value": self.value, "method": self.method, "description": self.description,
                          "n_items": self.n_items, "n_reviewers": self.n_reviewers, "level": self.level,
                          "reading": self.reading, "error": self.error})


_METHOD_NAMES = {
    "cohen_kappa": "Cohen's kappa (unweighted)",
    "cohen_kappa_quadratic": "Cohen's kappa (quadratic weights)",
    "fleiss_kappa": "Fleiss' kappa (nominal categories)",
    "krippendorff_alpha_ordinal": "Krippendorff's alpha (ordinal)",
    "krippendorff_alpha_nominal": "Krippendorff's alpha (nominal)",
}


def ratings_matrix(ratings: Iterable[tuple[Hashable, Hashable, Rating]]
                   ) -> tuple[list[list[float | None]], list[Hashable], list[Hashable]]:
    """``(matrix, reviewers, items)`` from ``(reviewer, item, value)`` triples: ``matrix[r][i]`` or None.

    Booleans become 0/1; a reviewer's later value for the same item replaces an earlier one. Reviewers
    and items keep their first-seen order.
    """
    cells: dict[tuple[Hashable, Hashable], float] = {}
    reviewers: dict[Hashable, None] = {}
    items: dict[Hashable, None] = {}
    for reviewer, item, value in ratings:
        if value is None or isinstance(value, float) and math.isnan(value):
            continue
        reviewers.setdefault(reviewer)
        items.setdefault(item)
        cells[(reviewer, item)] = float(value)
    matrix = [[cells.get((r, i)) for i in items] for r in reviewers]
    return matrix, list(reviewers), list(items)


def _clean(matrix: Sequence[Sequence[Rating]]) -> list[list[float | None]]:
    return [[None if v is None or isinstance(v, float) and math.isnan(v) else float(v) for v in row]
            for row in matrix]


def _pairable(matrix: list[list[float | None]]) -> tuple[int, int]:
    """(items with at least two ratings, reviewers with a rating on one of them)."""
    n_items = len(matrix[0]) if matrix else 0
    keep = [i for i in range(n_items) if sum(row[i] is not None for row in matrix) >= 2]
    reviewers = sum(any(row[i] is not None for i in keep) for row in matrix)
    return len(keep), reviewers


def _categories(values: Iterable[float], level: str, categories: Sequence[float] | None) -> list[float]:
    if categories is not None:
        return sorted({float(c) for c in categories} | set(values))
    seen = sorted(set(values))
    # an ordinal integer scale keeps its unobserved middle values (quadratic weights use positions)
    if level == "ordinal" and seen and all(v.is_integer() for v in seen):
        return [float(v) for v in range(int(seen[0]), int(seen[-1]) + 1)]
    return seen


def cohen_kappa(a: Sequence[Rating], b: Sequence[Rating], *, level: Level = "nominal",
                categories: Sequence[float] | None = None) -> AgreementResult:
    """Cohen's kappa of two reviewers over the items both rated (``sklearn.metrics.cohen_kappa_score``).

    ``level="ordinal"`` uses quadratic weights over ``categories`` (default: every integer between the
    lowest and highest rating), ``"nominal"`` is unweighted. Returns an :class:`AgreementResult`.
    """
    method = "cohen_kappa_quadratic" if level == "ordinal" else "cohen_kappa"
    if len(a) != len(b):
        return AgreementResult(NAN, method, 0, 2, level, "length_mismatch")
    rows = _clean([a, b])
    pairs = [(x, y) for x, y in zip(rows[0], rows[1], strict=True) if x is not None and y is not None]
    if len(pairs) < 2:
        return AgreementResult(NAN, method, len(pairs), 2, level, "too_few_items")
    labels = _categories([v for p in pairs for v in p], level, categories)
    if len({v for p in pairs for v in p}) < 2:
        return AgreementResult(NAN, method, len(pairs), 2, level, "no_variance")
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score([p[0] for p in pairs], [p[1] for p in pairs], labels=labels,
                                    weights="quadratic" if level == "ordinal" else None))
    return AgreementResult(value, method, len(pairs), 2, level, "no_variance" if math.isnan(value) else None)


def fleiss_kappa(matrix: Sequence[Sequence[Rating]], *, categories: Sequence[float] | None = None) -> AgreementResult:
    """Fleiss' kappa (statsmodels ``fleiss_kappa`` over ``aggregate_raters``) of a reviewers x items matrix.

    Fleiss' kappa needs the same number of ratings on every item: it uses the items with the most
    common number of ratings (at least two; ties go to the larger number), and ``n_items`` says how
    many. Categories are nominal (``categories`` is accepted for symmetry with the other functions; a
    category no one used does not change Fleiss' kappa). Returns an :class:`AgreementResult`.
    """
    rows = _clean(matrix)
    n_cols = len(rows[0]) if rows else 0
    per_item = [[row[i] for row in rows if row[i] is not None] for i in range(n_cols)]
    counts = [len(r) for r in per_item if len(r) >= 2]
    if not counts:
        return AgreementResult(NAN, "fleiss_kappa", 0, 0, "nominal", "too_few_raters_per_item")
    k = max(set(counts), key=lambda c: (counts.count(c), c))
    used = [r for r in per_item if len(r) == k]
    n_reviewers = sum(any(row[i] is not None for i in range(n_cols) if len(per_item[i]) == k) for row in rows)
    if len(used) < 2:
        return AgreementResult(NAN, "fleiss_kappa", len(used), n_reviewers, "nominal", "too_few_items")
    if len({v for r in used for v in r}) < 2:
        return AgreementResult(NAN, "fleiss_kappa", len(used), n_reviewers, "nominal", "no_variance")
    import numpy as np
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

    table, _cats = aggregate_raters(np.asarray(used, dtype=float))
    value = float(sm_fleiss_kappa(table, method="fleiss"))
    return AgreementResult(value, "fleiss_kappa", len(used), n_reviewers, "nominal",
                           "no_variance" if math.isnan(value) else None)


def krippendorff_alpha(matrix: Sequence[Sequence[Rating]], *, level: Level = "nominal",
                       categories: Sequence[float] | None = None) -> AgreementResult:
    """Krippendorff's alpha (``krippendorff.alpha``) of a reviewers x items matrix with missing ratings.

    ``level`` is ``"ordinal"`` for scales, ``"nominal"`` for yes/no; ``categories`` is the value domain
    (default: the observed values). Returns an :class:`AgreementResult`.
    """
    method = f"krippendorff_alpha_{level}"
    rows = _clean(matrix)
    n_items, n_reviewers = _pairable(rows)
    if n_items == 0:
        return AgreementResult(NAN, method, 0, n_reviewers, level, "too_few_raters_per_item")
    values = {v for row in rows for v in row if v is not None}
    if len(values) < 2:
        return AgreementResult(NAN, method, n_items, n_reviewers, level, "no_variance")
    import krippendorff
    import numpy as np

    data = np.array([[NAN if v is None else v for v in row] for row in rows], dtype=float)
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level,
                                     value_domain=_categories(values, level, categories)))
    return AgreementResult(value, method, n_items, n_reviewers, level, "no_variance" if math.isnan(value) else None)


def field_agreement(matrix: Sequence[Sequence[Rating]], *, level: Level = "nominal",
                    categories: Sequence[float] | None = None) -> tuple[AgreementResult, ...]:
    """The agreement figures for one field: a kappa, then Krippendorff's alpha.

    The kappa is Cohen's when exactly two reviewers rated (over the items both rated), Fleiss' when
    more did (reviewers may differ from item to item). Alpha uses every item with two or more ratings.
    """
    rows = [row for row in _clean(matrix) if any(v is not None for v in row)]
    if len(rows) == 2:
        kappa = cohen_kappa(rows[0], rows[1], level=level, categories=categories)
    else:
        kappa = fleiss_kappa(rows, categories=categories)
    return kappa, krippendorff_alpha(rows, level=level, categories=categories)


@dataclass(frozen=True)
class WinRateResult:
    """Candidate A vs B from blind pairwise judgements: win rate (ties as half), interval, sign test."""

    candidate_a: str
    candidate_b: str
    wins_a: int
    wins_b: int
    ties: int
    win_rate: float          # (wins_a + ties / 2) / n
    ci_low: float
    ci_high: float
    p_value: float           # exact two-sided sign test on the decisive comparisons (ties excluded)
    p_adjusted: float        # Holm across the pairs given together (= p_value for one pair)
    confidence: float = 0.95
    interval_method: str = WIN_RATE_INTERVAL
    test: str = WIN_RATE_TEST
    error: str | None = None

    @property
    def n(self) -> int:
        """All comparisons, ties included."""
        return self.wins_a + self.wins_b + self.ties

    @property
    def method(self) -> str:
        """The interval and the test in words."""
        return (f"win rate with ties as half; {self.confidence:.0%} Wilson-type score interval with the tie share "
                f"held; exact sign test, ties excluded (n_ties={self.ties}); Holm across pairs")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None)."""
        from harness.io import json_safe

        return json_safe({"candidate_a": self.candidate_a, "candidate_b": self.candidate_b, "wins_a": self.wins_a,
                          "wins_b": self.wins_b, "ties": self.ties, "n": self.n, "win_rate": self.win_rate,
                          "ci": [self.ci_low, self.ci_high], "confidence": self.confidence,
                          "p_value": self.p_value, "p_adjusted": self.p_adjusted,
                          "interval_method": self.interval_method, "test": self.test, "method": self.method,
                          "error": self.error})


def win_rate(wins_a: int, wins_b: int, ties: int = 0, *, candidate_a: str = "A", candidate_b: str = "B",
             confidence: float = 0.95) -> WinRateResult:
    """The win rate of A over B with ties as half, its interval and the exact sign test (ties excluded).

    Returns a :class:`WinRateResult`. No comparisons gives error ``no_data``; only ties gives win rate
    0.5 with error ``all_ties`` and no interval or p-value.
    """
    wins_a, wins_b, ties = int(wins_a), int(wins_b), int(ties)
    n = wins_a + wins_b + ties
    if min(wins_a, wins_b, ties) < 0:
        return WinRateResult(candidate_a, candidate_b, wins_a, wins_b, ties, NAN, NAN, NAN, NAN, NAN, confidence,
                             error="negative_count")
    if n == 0:
        return WinRateResult(candidate_a, candidate_b, 0, 0, 0, NAN, NAN, NAN, NAN, NAN, confidence, error="no_data")
    rate = (wins_a + ties / 2) / n
    if wins_a + wins_b == 0:
        return WinRateResult(candidate_a, candidate_b, wins_a, wins_b, ties, rate, NAN, NAN, NAN, NAN, confidence,
                             error="all_ties")
    low, high = tie_score_interval(rate, n, ties / n, confidence)
    from scipy.stats import binomtest

    p = float(binomtest(wins_a, wins_a + wins_b, 0.5, alternative="two-sided").pvalue)
    return WinRateResult(candidate_a, candidate_b, wins_a, wins_b, ties, rate, low, high, p, p, confidence)


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def tie_score_interval(rate: float, n: int, tie_share: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson-type score interval for a win rate with ties as half: ``(low, high)``.

    A comparison scores 1, 1/2 or 0; with the tie share ``tau`` held at its observed value the score's
    variance at win rate ``p`` is ``p (1 - p) - tau / 4`` (a tie varies less than a coin flip), and the
    interval is every ``p`` with ``(rate - p)^2 <= z^2 (p (1 - p) - tau / 4) / n``: Wilson's interval
    when there are no ties. Its test at ``p = 1/2`` is the sign test's normal form,
    ``(wins_a - wins_b) / sqrt(wins_a + wins_b)``, so interval and test tell the same story.
    """
    k = _z(confidence) ** 2 / n
    # (1 + k) p^2 - (2 rate + k) p + rate^2 + k tau / 4 = 0
    a, b, c = 1 + k, -(2 * rate + k), rate * rate + k * tie_share / 4
    root = math.sqrt(max(0.0, b * b - 4 * a * c))
    return max(0.0, (-b - root) / (2 * a)), min(1.0, (-b + root) / (2 * a))


def win_rates(counts: Sequence[tuple[str, str, int, int, int]], *, confidence: float = 0.95
              ) -> list[WinRateResult]:
    """:func:`win_rate` for each ``(candidate_a, candidate_b, wins_a, wins_b, ties)``, Holm-adjusted together."""
    from harness.stats.multiple import adjust_p_values

    results = [win_rate(wa, wb, t, candidate_a=a, candidate_b=b, confidence=confidence)
               for a, b, wa, wb, t in counts]
    adjusted = adjust_p_values([r.p_value for r in results], "holm")
    return [replace(r, p_adjusted=float(p)) for r, p in zip(results, adjusted, strict=True)]


@dataclass(frozen=True)
class CorrelationResult:
    """Spearman rank correlation of an automatic metric with human scores, with its interval."""

    rho: float
    ci_low: float
    ci_high: float
    n: int
    p_value: float
    confidence: float = 0.95
    method: str = "spearman"
    interval_method: str = CORRELATION_INTERVAL
    error: str | None = None

    @property
    def reading(self) -> str:
        """Plain words: "can stand in for reviewers" when rho >= STAND_IN_RHO and the interval's low end
        >= STAND_IN_LOW; "moderate" when rho >= MODERATE_RHO and the interval is above 0; "weak" when only
        the interval is above 0; "disagrees" when it is below 0; else "no evidence of agreement"."""
        if self.error or math.isnan(self.rho):
            return f"n/a ({self.error or 'undefined'})"
        if self.rho >= STAND_IN_RHO and self.ci_low >= STAND_IN_LOW:
            return "strong: can stand in for reviewers"
        if self.rho >= MODERATE_RHO and self.ci_low > 0:
            return "moderate: a screen, not a stand-in"
        if self.ci_low > 0:
            return "weak: agrees only loosely"
        if self.ci_high < 0:
            return "disagrees with reviewers"
        return "no evidence of agreement"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN -> None) with the reading."""
        from harness.io import json_safe

        return json_safe({"rho": self.rho, "ci": [self.ci_low, self.ci_high], "n": self.n, "p_value": self.p_value,
                          "confidence": self.confidence, "method": self.method,
                          "interval_method": self.interval_method, "reading": self.reading, "error": self.error})


def spearman_interval(rho: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval for a Spearman rho with the Bonett-Wright variance ``(1 + rho^2/2) / (n - 3)``."""
    if n < 4 or math.isnan(rho):
        return NAN, NAN
    if abs(rho) >= 1.0:
        return rho, rho  # z is infinite: every rank agrees (or reverses); no spread left to estimate
    z = math.atanh(rho)
    half = _z(confidence) * math.sqrt((1 + rho * rho / 2) / (n - 3))
    return math.tanh(z - half), math.tanh(z + half)


def rank_correlation(metric: Sequence[float | None], human: Sequence[float | None], *,
                     confidence: float = 0.95) -> CorrelationResult:
    """Spearman rho (``scipy.stats.spearmanr``) between ``metric`` and ``human`` over pairs where both exist.

    Returns a :class:`CorrelationResult`; fewer than 4 pairs gives ``too_few_items``, a constant side
    ``no_variance`` (rho undefined).
    """
    if len(metric) != len(human):
        return CorrelationResult(NAN, NAN, NAN, 0, NAN, confidence, error="length_mismatch")
    pairs = [(float(x), float(y)) for x, y in zip(metric, human, strict=True)
             if x is not None and y is not None and not (math.isnan(float(x)) or math.isnan(float(y)))]
    n = len(pairs)
    if n < 4:
        return CorrelationResult(NAN, NAN, NAN, n, NAN, confidence, error="too_few_items")
    if len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return CorrelationResult(NAN, NAN, NAN, n, NAN, confidence, error="no_variance")
    from scipy.stats import spearmanr

    result = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
    rho, p = float(result.statistic), float(result.pvalue)
    low, high = spearman_interval(rho, n, confidence)
    return CorrelationResult(rho, low, high, n, p, confidence)


def agreement_intervals(matrix: Sequence[Sequence[float | None]], *, level: str, categories: Sequence[float],
                        confidence: float = 0.95, n_boot: int = 1000, seed: int = 0
                        ) -> list[tuple[float, float, int]]:
    """Percentile bootstrap intervals over items for each figure of :func:`field_agreement` (a kappa, then
    Krippendorff's alpha): ``[(low, high, n_valid), ...]`` in that order.

    Items (the matrix's columns) are resampled with replacement, ``n_boot`` times with a fixed ``seed``;
    replicates where a figure is undefined (no variance, too few items) are left out and ``n_valid``
    says how many remained; with fewer than 20 valid replicates the interval is ``(nan, nan)``.
    """
    import numpy as np

    columns = len(matrix[0]) if matrix else 0
    n_figures = 2
    if columns == 0:
        return [(math.nan, math.nan, 0)] * n_figures
    rng = np.random.default_rng(seed)
    data = np.array([[math.nan if v is None else float(v) for v in row] for row in matrix], dtype=float)
    replicates: list[list[float]] = [[] for _ in range(n_figures)]
    for _ in range(n_boot):
        picked = data[:, rng.integers(0, columns, columns)]
        sample = [[None if math.isnan(v) else v for v in row] for row in picked.tolist()]
        for slot, result in enumerate(field_agreement(sample, level=level, categories=categories)):  # type: ignore[arg-type]
            if not result.error and not math.isnan(result.value):
                replicates[slot].append(result.value)
    tail = (1 - confidence) / 2
    out = []
    for values in replicates:
        if len(values) < 20:
            out.append((math.nan, math.nan, len(values)))
            continue
        low, high = np.quantile(values, [tail, 1 - tail])
        out.append((float(low), float(high), len(values)))
    return out
