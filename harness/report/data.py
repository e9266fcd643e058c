"""Data view: a chat-JSONL file's profile (categories, lengths, duplicates) and its coverage of production.

The numbers come from ``harness data report`` (:func:`harness.data.report.profile_file`) and
``harness data report --against`` (:func:`harness.data.shift.compare_profiles`); this module shapes them
into tables and pre-binned histograms for charts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from harness.data.report import DatasetProfile
    from harness.data.shift import CategoryShift, Comparison

#: The length measures of a profile, in the order a page shows them.
LENGTH_MEASURES = ("user_tokens", "assistant_tokens", "total_tokens", "messages")


@dataclass(frozen=True)
class DataReport:
    """A file's profile as tables.

    ``categories``: ``(field, value, count, share)`` for every categorical metadata field;
    ``lengths``: ``(measure, n, min, median, p95, max, mean)``; ``histograms``: ``(measure, start, end, count)``
    with integer-aligned bins ``[start, end)``; ``duplicate_pairs``: ``(line, first_line, kind)``, the first 20.
    """

    path: str
    examples: int
    unreadable_lines: int
    token_counter: str
    with_system_prompt: int
    exact_duplicates: int
    near_duplicates: int
    categories: tuple[tuple[str, str, int, float], ...]
    high_cardinality_fields: tuple[tuple[str, str], ...]
    lengths: tuple[tuple[str, int, float, float, float, float, float], ...]
    histograms: tuple[tuple[str, int, int, int], ...]
    duplicate_pairs: tuple[tuple[int, int, str], ...]

    @property
    def fields(self) -> list[str]:
        """The categorical fields, in order."""
        return list(dict.fromkeys(row[0] for row in self.categories))

    def categories_frame(self, field: str | None = None) -> pd.DataFrame:
        """Categories as a table (``field``, ``value``, ``count``, ``share``), of one field when given."""
        import pandas as pd

        frame = pd.DataFrame(list(self.categories), columns=["field", "value", "count", "share"])
        return frame[frame["field"] == field].reset_index(drop=True) if field else frame

    def lengths_frame(self) -> pd.DataFrame:
        """Length statistics per measure: ``measure``, ``n``, ``min``, ``median``, ``p95``, ``max``, ``mean``."""
        import pandas as pd

        return pd.DataFrame(list(self.lengths), columns=["measure", "n", "min", "median", "p95", "max", "mean"])

    def histogram_frame(self, measure: str | None = None) -> pd.DataFrame:
        """Histogram bins (``measure``, ``start``, ``end``, ``count``), of one measure when given."""
        import pandas as pd

        frame = pd.DataFrame(list(self.histograms), columns=["measure", "start", "end", "count"])
        return frame[frame["measure"] == measure].reset_index(drop=True) if measure else frame


def histogram(values: list[int], max_bins: int = 30) -> list[tuple[int, int, int]]:
    """``(start, end, count)`` bins of integer ``values``: equal integer widths, at most ``max_bins``, from the min."""
    if not values:
        return []
    import numpy as np

    low, high = min(values), max(values)
    width = max(1, math.ceil((high - low + 1) / max_bins))
    edges = np.arange(low, high + width + 1, width)
    if edges[-1] <= high:  # keep the max inside a half-open bin
        edges = np.append(edges, edges[-1] + width)
    counts, _ = np.histogram(values, bins=edges)
    bins = [(int(a), int(b), int(c)) for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    while bins and bins[-1][2] == 0:
        bins.pop()
    return bins


def report_from_profile(profile: DatasetProfile, *, max_bins: int = 30) -> DataReport:
    """The :class:`DataReport` of a :class:`~harness.data.report.DatasetProfile`."""
    from harness.data.report import length_stats

    data = profile.to_dict()
    categories = [(name, str(value), int(count), float(entry["shares"][value]))
                  for name, entry in data["fields"].items() for value, count in entry["counts"].items()]
    lengths, histograms = [], []
    for measure in LENGTH_MEASURES:
        values = profile.lengths.get(measure) or []
        stats = length_stats(values)
        if stats is None:
            continue
        lengths.append((measure, stats.n, stats.min, stats.median, stats.p95, stats.max, round(stats.mean, 3)))
        histograms += [(measure, *bin_) for bin_ in histogram(values, max_bins)]
    return DataReport(
        path=profile.path, examples=profile.examples, unreadable_lines=profile.unreadable_lines,
        token_counter=profile.token_counter, with_system_prompt=profile.with_system,
        exact_duplicates=profile.exact_duplicates, near_duplicates=profile.near_duplicates,
        categories=tuple(categories),
        high_cardinality_fields=tuple((k, str(v)) for k, v in data["high_cardinality_fields"].items()),
        lengths=tuple(lengths), histograms=tuple(histograms), duplicate_pairs=tuple(profile.duplicate_pairs))


def data_report(path: str | Path, *, max_bins: int = 30) -> DataReport:
    """Profile the chat-JSONL file at ``path`` (as ``harness data report`` does) into a :class:`DataReport`."""
    from harness.data.report import profile_file

    return report_from_profile(profile_file(existing_file(path, "data file")), max_bins=max_bins)


def existing_file(path: str | Path, what: str, *, base: str | Path | None = None) -> Path:
    """``path`` as an existing file (a relative path is tried as given, then under ``base``).

    Raises :class:`~harness.errors.HarnessError` naming the path when there is no such file.
    """
    from harness.errors import HarnessError

    candidate = Path(str(path).strip()).expanduser()
    tries = [candidate] + ([Path(base) / candidate] if base is not None and not candidate.is_absolute() else [])
    for option in tries:
        if option.is_file():
            return option
    raise HarnessError(f"{what} {str(path)!r} not found", hint="give the path of a chat-JSONL file "
                       "(one {\"messages\": [...]} example per line), absolute or relative to the workspace")


# coverage vs production ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coverage:
    """How well the training file covers a production sample (``harness data report --against``)."""

    train_path: str
    production_path: str
    train_examples: int
    production_examples: int
    categories: tuple[CategoryShift, ...]  # every category of every field in both files
    flags: tuple[CategoryShift, ...]  # missing, under-covered, then over-represented
    fields: tuple[tuple[str, float, int, float], ...]  # (field, chi2, dof, p) of the homogeneity test
    lengths: tuple[tuple[str, float, float, float, float], ...]  # (measure, train median, prod median, KS, p)
    settings: dict[str, float]

    def shares_frame(self, field: str | None = None) -> pd.DataFrame:
        """Long table for a grouped bar chart: ``field``, ``value``, ``sample`` (training|production), ``share``."""
        import pandas as pd

        rows = []
        for c in self.categories:
            if field is None or c.field == field:
                rows.append({"field": c.field, "value": c.value, "sample": "training", "share": c.train_share,
                             "flag": c.flag or ""})
                rows.append({"field": c.field, "value": c.value, "sample": "production", "share": c.other_share,
                             "flag": c.flag or ""})
        return pd.DataFrame(rows, columns=["field", "value", "sample", "share", "flag"])

    def flags_frame(self) -> pd.DataFrame:
        """The flagged categories: ``field``, ``value``, ``flag``, both shares, ``ratio``, Holm-adjusted ``p``."""
        import pandas as pd

        rows = [{"field": c.field, "value": c.value, "flag": c.flag, "training share": c.train_share,
                 "production share": c.other_share, "ratio": c.ratio, "p (Holm)": c.p_value} for c in self.flags]
        return pd.DataFrame(rows, columns=["field", "value", "flag", "training share", "production share",
                                           "ratio", "p (Holm)"])

    def headline(self) -> str:
        """One sentence: how many categories are missing or under-covered."""
        missing = sum(1 for c in self.flags if c.flag == "missing")
        under = sum(1 for c in self.flags if c.flag == "under")
        if not missing and not under:
            return (f"no under-covered categories: training covers the {self.production_examples} production "
                    f"examples' categories")
        names = ", ".join(f"{c.field}={c.value}" for c in self.flags if c.flag in ("missing", "under"))
        return f"{missing} missing and {under} under-covered categories vs production: {names}"


def coverage_from_profiles(train: DatasetProfile, production: DatasetProfile, *, min_share: float = 0.02,
                           ratio_threshold: float = 0.5) -> Coverage:
    """The :class:`Coverage` of ``train`` against ``production`` (the test is ``compare_profiles``)."""
    from harness.data.shift import compare_profiles

    comparison: Comparison = compare_profiles(train, production, min_share=min_share,
                                              ratio_threshold=ratio_threshold)
    return Coverage(
        train_path=train.path, production_path=production.path, train_examples=train.examples,
        production_examples=production.examples,
        categories=tuple(c for f in comparison.fields for c in f.categories), flags=tuple(comparison.flags),
        fields=tuple((f.field, f.chi2, f.dof, f.p_value) for f in comparison.fields),
        lengths=tuple((x.name, x.train_median, x.other_median, x.ks_statistic, x.p_value)
                      for x in comparison.lengths),
        settings=dict(comparison.settings))


def coverage(train_path: str | Path, production_path: str | Path, *, base: str | Path | None = None,
             min_share: float = 0.02, ratio_threshold: float = 0.5) -> Coverage:
    """Profile both files and return the training file's :class:`Coverage` of the production sample.

    ``production_path`` may be relative to ``base`` (the workspace); a missing file raises
    :class:`~harness.errors.HarnessError`.
    """
    from harness.data.report import profile_file

    train = profile_file(existing_file(train_path, "training file"))
    production = profile_file(existing_file(production_path, "production sample", base=base))
    return coverage_from_profiles(train, production, min_share=min_share, ratio_threshold=ratio_threshold)


def default_field(fields: list[str]) -> str | None:
    """The field a page shows first: a usual category name when present (``category``, ``product_area``,
    ``label``, ``task``, ``skill``), else the first field; None when there are none."""
    for name in ("category", "product_area", "label", "task", "skill"):
        if name in fields:
            return name
    return fields[0] if fields else None
