"""Compare a training set's distributions with another sample (e.g. production queries).

For every categorical metadata field present in both profiles:

* a chi-square test of homogeneity over the field's categories (``scipy.stats.chi2_contingency``
  on the 2 x k table of counts) says whether the two distributions differ at all;
* per category, a two-proportion test (2 x 2 chi-square without continuity correction, which is
  the two-sided z-test for proportions; Fisher's exact test when an expected count is below 5),
  Holm-adjusted across the field's categories.

A category is **under-covered** when it is at least ``min_share`` of the other sample, its share
in training is below ``ratio_threshold`` times its share in the other sample (default 0.5: the
article's "20% of production is billing, 5% of training" has ratio 0.25), and the adjusted p-value
is below ``alpha``. It is **missing** when training has none of it and the other sample has at
least ``min_share``. It is **over-represented** when the ratio is above ``1 / ratio_threshold``
and significant (informational). Query lengths (user tokens) are compared with a two-sample
Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from harness.data.report import DatasetProfile


@dataclass(frozen=True)
class CategoryShift:
    """One category of one field: counts and shares in both sets, the ratio, the test and the flag."""

    field: str
    value: str
    train_count: int
    train_share: float
    other_count: int
    other_share: float
    ratio: float | None  # train_share / other_share (None when the other sample has none)
    p_value: float  # Holm-adjusted across the field's categories
    flag: str | None  # "under" | "missing" | "over" | None


@dataclass(frozen=True)
class FieldComparison:
    """The homogeneity test of one field and its categories."""

    field: str
    chi2: float
    dof: int
    p_value: float
    categories: list[CategoryShift]


@dataclass(frozen=True)
class LengthShift:
    """Two-sample KS test of a length distribution (e.g. user tokens) between the sets."""

    name: str
    train_median: float
    other_median: float
    ks_statistic: float
    p_value: float


@dataclass(frozen=True)
class Comparison:
    """Everything ``--against`` found; ``flags`` are the under-covered / missing / over-represented categories."""

    other_path: str
    other_examples: int
    fields: list[FieldComparison]
    lengths: list[LengthShift]
    settings: dict[str, float]

    @property
    def flags(self) -> list[CategoryShift]:
        """Return every flagged category, most under-covered first."""
        flagged = [c for f in self.fields for c in f.categories if c.flag]
        order = {"missing": 0, "under": 1, "over": 2}
        return sorted(flagged, key=lambda c: (order[c.flag or ""], c.ratio if c.ratio is not None else 0.0))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready comparison."""
        return {"path": self.other_path, "examples": self.other_examples, "settings": self.settings,
                "fields": [asdict(f) for f in self.fields], "lengths": [asdict(x) for x in self.lengths],
                "flags": [asdict(c) for c in self.flags]}


def proportion_p_value(a: int, n1: int, b: int, n2: int) -> float:
    """Return the two-sided p-value that ``a/n1`` and ``b/n2`` come from the same proportion.

    2 x 2 chi-square without continuity correction (equal to the two-proportion z-test), or
    Fisher's exact test when an expected cell count is below 5.
    """
    from scipy.stats import chi2_contingency, fisher_exact

    table = [[a, n1 - a], [b, n2 - b]]
    total = n1 + n2
    column = [a + b, total - a - b]
    if total == 0 or 0 in column:
        return 1.0
    expected = min(r * c / total for r in (n1, n2) for c in column)
    if expected < 5:
        return float(fisher_exact(table).pvalue)
    return float(chi2_contingency(table, correction=False).pvalue)


def holm(p_values: list[float]) -> list[float]:
    """Return Holm step-down adjusted p-values (see :func:`harness.stats.multiple.adjust_p_values`)."""
    from harness.stats.multiple import adjust_p_values

    return adjust_p_values(p_values, "holm")


def compare_field(name: str, train: dict[str, int], other: dict[str, int], *, min_share: float,
                  ratio_threshold: float, alpha: float) -> FieldComparison:
    """Return the :class:`FieldComparison` of one field's category counts in training vs the other set."""
    from scipy.stats import chi2_contingency

    values = sorted(set(train) | set(other))
    n1, n2 = sum(train.values()), sum(other.values())
    if len(values) > 1 and n1 and n2:
        result = chi2_contingency([[train.get(v, 0) for v in values], [other.get(v, 0) for v in values]])
        chi2, dof, p_field = float(result.statistic), int(result.dof), float(result.pvalue)
    else:
        chi2, dof, p_field = 0.0, 0, 1.0
    raw = [proportion_p_value(train.get(v, 0), n1, other.get(v, 0), n2) for v in values]
    adjusted = holm(raw)
    categories = []
    for value, p in zip(values, adjusted, strict=True):
        a, b = train.get(value, 0), other.get(value, 0)
        s1, s2 = (a / n1 if n1 else 0.0), (b / n2 if n2 else 0.0)
        ratio = s1 / s2 if s2 else None
        flag = None
        if s2 >= min_share and a == 0:
            flag = "missing"
        elif ratio is not None and s2 >= min_share and ratio < ratio_threshold and p < alpha:
            flag = "under"
        elif ratio is not None and ratio_threshold > 0 and ratio > 1 / ratio_threshold and p < alpha:
            flag = "over"
        categories.append(CategoryShift(name, value, a, round(s1, 4), b, round(s2, 4),
                                        None if ratio is None else round(ratio, 4), float(p), flag))
    return FieldComparison(name, chi2, dof, p_field, categories)


def compare_profiles(train: DatasetProfile, other: DatasetProfile, *, min_share: float = 0.02,
                     ratio_threshold: float = 0.5, alpha: float = 0.05) -> Comparison:
    """Return the :class:`Comparison` of ``train`` against ``other`` (fields present in both, query lengths)."""
    from scipy.stats import ks_2samp

    train_fields, other_fields = train.categorical_fields(), other.categorical_fields()
    fields = [compare_field(name, dict(train_fields[name]), dict(other_fields[name]), min_share=min_share,
                            ratio_threshold=ratio_threshold, alpha=alpha)
              for name in sorted(set(train_fields) & set(other_fields))]
    lengths = []
    for name in ("user_tokens",):
        a, b = train.lengths[name], other.lengths[name]
        if a and b:
            import numpy as np

            test = ks_2samp(a, b)
            lengths.append(LengthShift(name, float(np.median(a)), float(np.median(b)),
                                       float(test.statistic), float(test.pvalue)))
    return Comparison(other.path, other.examples, fields, lengths,
                      {"min_share": min_share, "ratio_threshold": ratio_threshold, "alpha": alpha})
