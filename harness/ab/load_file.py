"""Events files (CSV or Parquet: ``unit_id, variant, timestamp, <metric columns>``) as an event source."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.ab.clean_events import (
    infer_metrics,
    missing_values,
    numeric_column,
    unparsed_timestamps,
    usable_rows,
)
from harness.ab.config import AnalysisConfig
from harness.ab.sums import DataQuality, Pair, PairSums, UnitValue
from harness.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

REQUIRED = ("unit_id", "variant")


def read_events(path: Path) -> pd.DataFrame:
    """Read an events file into a DataFrame (as stored: see :mod:`harness.ab.clean_events` for the usable rows);
    errors name the file and what is wrong."""
    import pandas as pd

    if not path.exists():
        raise DataError(f"events file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"events file {path} is empty", hint="it needs a header row and one row per event",
                        exit_code=1)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise DataError(f"events file {path}: unknown extension {suffix!r}", hint="use .csv or .parquet")
    except pd.errors.EmptyDataError:
        raise DataError(f"events file {path} is empty", hint="it needs a header row and one row per event",
                        exit_code=1) from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise DataError(f"events file {path} cannot be read: {exc}", exit_code=1) from None
    if len(df) == 0:
        raise DataError(f"events file {path} has a header but no rows", hint="add one row per event", exit_code=1)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"events file {path}: missing column {missing[0]!r}", exit_code=1,
                        hint=f"columns found: {', '.join(map(str, df.columns))}; required: unit_id, variant")
    return df


class FrameSource:
    """An :class:`~harness.ab.collect.EventSource` over a pandas DataFrame of events."""

    def __init__(self, df: pd.DataFrame, name: str) -> None:
        self.df = df
        self.name = name
        self._groups = df.groupby(["unit_id", "variant"], sort=False)
        self.variants = [str(v) for v in dict.fromkeys(df["variant"])]

    def overview(self) -> tuple[dict[str, int], float | None, float | None]:
        """Units per variant (order of first appearance) and the time span in epoch seconds."""
        import pandas as pd

        keys = self._groups.size().reset_index()
        order = list(dict.fromkeys(self.df["variant"]))
        counts = keys.groupby("variant").size()
        units = {v: int(counts.get(v, 0)) for v in order}
        if "timestamp" not in self.df.columns:
            return units, None, None
        ts = self.df["timestamp"]
        if pd.api.types.is_numeric_dtype(ts):
            seconds = ts.astype(float)
        else:
            try:
                parsed = pd.to_datetime(ts, errors="coerce", utc=True)
                if parsed.isna().all():
                    return units, None, None
                seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
            except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError):  # e.g. "5492" read as a year
                return units, None, None
        return units, float(seconds.min()), float(seconds.max())

    def quantiles(self, column: str, probs: dict[str, list[float]]) -> dict[str, list[float]]:
        """Exact lower quantiles per variant from the sorted values."""
        from harness.ab.sums import order_statistic_index

        out = {}
        for variant, values in self.df.groupby("variant")[column]:
            if str(variant) not in probs:
                continue
            x = np.sort(values.dropna().to_numpy())
            out[str(variant)] = [float(x[order_statistic_index(p, len(x))]) if len(x) else float("nan")
                                 for p in probs[str(variant)]]
        return out

    def _unit_value(self, value: UnitValue, thresholds: dict[str, dict[str, float]]) -> pd.Series:
        g = self._groups
        if value.agg == "count":
            return g.size() if value.column is None else g[value.column].count()
        if value.agg == "le":
            cut = self.df["variant"].map(thresholds[value.key])
            below = (self.df[value.column] <= cut).astype(float)
            return below.groupby([self.df["unit_id"], self.df["variant"]], sort=False).sum()
        if value.agg == "sum":
            return g[value.column].sum(min_count=0)
        return g[value.column].mean() if value.agg == "mean" else g[value.column].max()

    def pair_sums(self, pairs: list[Pair], thresholds: dict[str, dict[str, float]]) -> dict[str, list[PairSums]]:
        """Per-unit values with pandas ``groupby``, then the sums per variant with numpy."""
        base = self._groups.size().index
        cache: dict[str, pd.Series] = {}

        def unit(v: UnitValue) -> pd.Series:
            if v.key not in cache:
                cache[v.key] = self._unit_value(v, thresholds).astype(float).reindex(base)
            return cache[v.key]

        variants = base.get_level_values("variant")
        out: dict[str, list[PairSums]] = {}
        for variant in dict.fromkeys(variants):
            mask = np.asarray(variants == variant)
            sums = []
            for pair in pairs:
                a = unit(pair.a).to_numpy()[mask]
                b = unit(pair.b).to_numpy()[mask]
                ok = ~(np.isnan(a) | np.isnan(b))
                a, b = a[ok], b[ok]
                sums.append(PairSums(int(ok.sum()), float(a.sum()), float(b.sum()), float(a @ a),
                                     float(b @ b), float(a @ b)))
            out[str(variant)] = sums
        return out


def load_events_file(path: Path, config: AnalysisConfig):  # -> tuple[ExperimentData, AnalysisConfig]
    """Read, validate and aggregate an events file; returns the data and the config with metrics filled in.

    Rows without a unit or a variant, and units seen in more than one variant, are left out and counted
    (:mod:`harness.ab.clean_events`); the counts are ``data.quality``. Inferred metrics get a primary
    metric only when one is unambiguous (:meth:`AnalysisConfig.with_inferred_primary`).
    """
    from dataclasses import replace

    from harness.ab.collect import collect

    df, rows = usable_rows(read_events(path), path)
    ignored: dict[str, str] = {}
    if config.metrics:
        metrics = config.metrics
    else:
        metrics, ignored = infer_metrics(df, config, path)
        config = replace(config, metrics=metrics).with_inferred_primary(f"events file {path}")
    needed = {c for m in metrics for c in m.columns()}
    proportions = {m.source_column for m in metrics if m.metric_type.plan_as == "proportion"}
    if config.cuped_covariate:
        needed.add(config.cuped_covariate)
    for column in sorted(needed):
        numeric_column(df, column, path, proportion=column in proportions)
    data = collect(FrameSource(df, str(path)), config)
    data.quality = DataQuality(rows.read, rows.used, rows.without_unit_id, rows.without_variant,
                               rows.multi_variant_units, rows.multi_variant_rows, rows.multi_variant_examples,
                               missing_values(df, needed), ignored, unparsed_timestamps(df))
    return data, config
