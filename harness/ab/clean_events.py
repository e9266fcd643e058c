"""What of an events file the analysis can use: usable rows, metric columns, and counts of the rest.

Nothing is dropped without a count. Rows without a ``unit_id`` or a ``variant`` are left out and
counted; every row of a unit seen in more than one variant is left out by the stated rule
(:data:`harness.ab.sums.MULTI_VARIANT_RULE`: excluded from every variant, counted, a few ids shown).
A metric column with a cell that is not a number is an error naming the line; a column that holds
text is not a metric and is listed as ignored. The counts end up in the ``data_quality`` entry of
``harness ab analyze --json`` and under the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.ab.config import AnalysisConfig, MetricSpec, default_store_metrics
from harness.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

RESERVED = ("unit_id", "variant", "timestamp")
#: How many ids of units seen in several variants the output shows.
EXAMPLES = 5


@dataclass(frozen=True)
class RowCounts:
    """Rows of an events file: read, left out (and why), and used."""

    read: int
    without_unit_id: int
    without_variant: int
    multi_variant_units: int
    multi_variant_rows: int
    multi_variant_examples: tuple[str, ...]

    @property
    def used(self) -> int:
        """Rows the analysis uses."""
        return self.read - self.without_unit_id - self.without_variant - self.multi_variant_rows


def where(path: Path, index: object) -> str:
    """``line N`` of a CSV file (header = line 1) or ``row N`` of a Parquet file, for a row's index label."""
    return f"line {int(index) + 2}" if path.suffix.lower() == ".csv" else f"row {index}"  # type: ignore[call-overload]


def _blank(col: pd.Series) -> pd.Series:
    """Missing cells and cells holding only whitespace."""
    import pandas as pd

    blank = col.isna()
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        blank |= col.astype(str).str.strip().eq("") & col.notna()
    return blank


def usable_rows(df: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, RowCounts]:
    """Return the rows the analysis can use (variant as text, original index kept) and the counts of the rest.

    Left out: rows with a blank ``unit_id``, rows with a blank ``variant`` and every row of a unit seen in
    more than one variant (:data:`~harness.ab.sums.MULTI_VARIANT_RULE`). Raises :class:`DataError` when
    no row is left.
    """
    no_unit = _blank(df["unit_id"])
    no_variant = _blank(df["variant"]) & ~no_unit
    kept = df[~(no_unit | no_variant)].copy()
    kept["variant"] = kept["variant"].astype(str).str.strip()
    per_unit = kept.groupby("unit_id", sort=False)["variant"].nunique()
    multi = per_unit.index[per_unit.to_numpy() > 1]
    in_multi = kept["unit_id"].isin(multi)
    counts = RowCounts(len(df), int(no_unit.sum()), int(no_variant.sum()), len(multi), int(in_multi.sum()),
                       tuple(str(u) for u in multi[:EXAMPLES]))
    kept = kept[~in_multi]
    if kept.empty:
        raise DataError(f"events file {path}: no usable rows ({counts.read} read: {counts.without_unit_id} without "
                        f"a unit_id, {counts.without_variant} without a variant, {counts.multi_variant_rows} of "
                        f"units seen in more than one variant)",
                        hint="every row needs a unit_id and a variant, and each unit one variant", exit_code=1)
    return kept, counts


def numeric_column(df: pd.DataFrame, column: str, path: Path, *, proportion: bool = False,
                   hint: str = "metric columns must hold numbers (0/1 for yes/no); leave a cell empty for no value"
                   ) -> None:
    """Convert ``column`` to float in place, or raise naming the column, the file, the line and the value.

    Blank cells stay missing (counted by :func:`missing_values`); text, infinities and, for a
    proportion (``proportion=True``), values outside [0, 1] are errors.
    """
    import pandas as pd

    if column not in df.columns:
        raise DataError(f"events file {path}: metric column {column!r} not found",
                        hint=f"columns found: {', '.join(map(str, df.columns))}")
    col = df[column]
    converted = col.astype(float) if col.dtype == bool else pd.to_numeric(col, errors="coerce")
    bad = (converted.isna() & ~_blank(col)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"events file {path}: metric column {column!r} is not numeric "
                        f"({where(path, col.index[i])}: {col.iloc[i]!r})", hint=hint, exit_code=1)
    values = converted.astype(float)
    checks = [(np.isinf(values.to_numpy()), "is not finite", "replace it by a number or leave the cell empty")]
    if proportion:
        checks.append((((values < 0) | (values > 1)).to_numpy(), "is outside [0, 1] for a proportion",
                       f"a proportion needs 0/1 values; name it --metric {column}:mean for other numbers"))
    for mask, what, hint in checks:
        if mask.any():
            i = int(np.argmax(mask))
            raise DataError(f"events file {path}: metric column {column!r} {what} "
                            f"({where(path, col.index[i])}: {col.iloc[i]!r})", hint=hint, exit_code=1)
    df[column] = values


def missing_values(df: pd.DataFrame, columns: set[str]) -> dict[str, int]:
    """Blank cells per column (only columns with at least one), in column order."""
    return {c: int(df[c].isna().sum()) for c in sorted(columns) if c in df.columns and df[c].isna().any()}


def infer_metrics(df: pd.DataFrame, config: AnalysisConfig,
                  path: Path) -> tuple[tuple[MetricSpec, ...], dict[str, str]]:
    """Default metrics for a file and the columns left out with the reason.

    The standard LLM metrics whose columns exist come first (their roles included), then one metric per
    other numeric column (``proportion`` when it holds only 0/1). A column that is mostly numbers with
    some text is an error naming the first bad cell; a column of text, an empty column and a pre-period
    column (``pre_*``, ``covariate*``) are not metrics: they are returned with the reason.
    """
    import pandas as pd

    specs = [m for m in default_store_metrics() if all(c in df.columns for c in m.columns())]
    used = {c for m in specs for c in m.columns()} | set(RESERVED) | {config.cuped_covariate}
    ignored: dict[str, str] = {}
    for col in df.columns:
        name = str(col)
        if col in used:
            continue
        if name.startswith(("pre_", "covariate")):
            ignored[name] = "pre-period column (use it with --cuped NAME)"
            continue
        values = df[col]
        if not pd.api.types.is_numeric_dtype(values):
            numbers = int(pd.to_numeric(values, errors="coerce").notna().sum())
            text = int((~_blank(values)).sum()) - numbers
            if numbers > text:  # meant as a metric: the text cells are mistakes
                numeric_column(df, name, path, hint="fix the cell (leave it empty for no value), or name the "
                               "metrics to analyse with --metric NAME:TYPE to leave this column out")
            else:
                ignored[name] = f"not numeric ({text} text cells)"
                continue
        present = df[col].dropna()
        if present.empty:
            ignored[name] = "no values"
            continue
        kind = "proportion" if present.isin([0, 1]).all() else "mean"
        specs.append(MetricSpec(name, kind))
    if not specs:
        listed = "; ".join(f"{c}: {why}" for c, why in ignored.items()) or "only unit_id, variant, timestamp"
        raise DataError(f"events file {path}: no numeric metric columns ({listed})",
                        hint="add metric columns or name them with --metric NAME:TYPE", exit_code=1)
    return tuple(specs), ignored


def unparsed_timestamps(df: pd.DataFrame) -> int:
    """Rows whose ``timestamp`` is present but not a date or a number (left out of the experiment's span)."""
    import pandas as pd

    if "timestamp" not in df.columns or pd.api.types.is_numeric_dtype(df["timestamp"]):
        return 0
    ts = df["timestamp"]
    parsed = pd.to_datetime(ts, errors="coerce", utc=True)  # as FrameSource.overview reads it
    return int((parsed.isna() & ~_blank(ts)).sum())
