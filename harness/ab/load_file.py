"""Events files (CSV or Parquet: ``unit_id, variant, timestamp, <metric columns>``) as an event source."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.ab.config import AnalysisConfig, MetricSpec, default_store_metrics
from harness.ab.sums import Pair, PairSums, UnitValue
from harness.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

REQUIRED = ("unit_id", "variant")
RESERVED = ("unit_id", "variant", "timestamp")


def read_events(path: Path) -> pd.DataFrame:
    """Read an events file into a DataFrame; errors name the file and what is wrong."""
    import pandas as pd

    if not path.exists():
        raise DataError(f"events file {path} does not exist")
    if path.stat().st_size == 0:
        raise DataError(f"events file {path} is empty", hint="it needs a header row and one row per event")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(path)
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        else:
            raise DataError(f"events file {path}: unknown extension {suffix!r}", hint="use .csv or .parquet")
    except pd.errors.EmptyDataError:
        raise DataError(f"events file {path} is empty", hint="it needs a header row and one row per event") from None
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise DataError(f"events file {path} cannot be read: {exc}") from None
    if len(df) == 0:
        raise DataError(f"events file {path} has a header but no rows", hint="add one row per event")
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(f"events file {path}: missing column {missing[0]!r}",
                        hint=f"columns found: {', '.join(map(str, df.columns))}; required: unit_id, variant")
    df["variant"] = df["variant"].astype(str)
    return df


def numeric_column(df: pd.DataFrame, column: str, path: Path) -> None:
    """Convert ``column`` to float in place, or raise naming the column, the file, the row and the value."""
    import pandas as pd

    if column not in df.columns:
        raise DataError(f"events file {path}: metric column {column!r} not found",
                        hint=f"columns found: {', '.join(map(str, df.columns))}")
    col = df[column]
    if col.dtype == bool:
        df[column] = col.astype(float)
        return
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        line = f" line {row + 2}" if path.suffix.lower() == ".csv" else f" row {row}"
        raise DataError(f"events file {path}: metric column {column!r} is not numeric "
                        f"({line.strip()}: {col.iloc[row]!r})", hint="metric columns must hold numbers (0/1 for yes/no)")
    df[column] = converted.astype(float)


def infer_metrics(df: pd.DataFrame, config: AnalysisConfig) -> tuple[MetricSpec, ...]:
    """Default metrics for a file: the standard LLM metrics whose columns exist, then other numeric columns."""
    import pandas as pd

    specs = [m for m in default_store_metrics() if all(c in df.columns for c in m.columns())]
    used = {c for m in specs for c in m.columns()} | set(RESERVED) | {config.cuped_covariate}
    for col in df.columns:
        pre_period = str(col).startswith(("pre_", "covariate"))
        if col in used or pre_period or not pd.api.types.is_numeric_dtype(df[col]):
            continue
        values = df[col].dropna()
        kind = "proportion" if len(values) and values.isin([0, 1]).all() else "mean"
        specs.append(MetricSpec(str(col), kind))
    if not specs:
        raise DataError("no numeric metric columns found in the events file",
                        hint="add metric columns or name them with --metric NAME:TYPE")
    return tuple(specs)


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
            parsed = pd.to_datetime(ts, errors="coerce", utc=True)
            if parsed.isna().all():
                return units, None, None
            seconds = (parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
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
    """Read, validate and aggregate an events file; returns the data and the config with metrics filled in."""
    from dataclasses import replace

    from harness.ab.collect import collect

    df = read_events(path)
    metrics = config.metrics or infer_metrics(df, config)
    config = replace(config, metrics=metrics)
    needed = {c for m in metrics for c in m.columns()}
    if config.cuped_covariate:
        needed.add(config.cuped_covariate)
    for column in sorted(needed):
        numeric_column(df, column, path)
    return collect(FrameSource(df, str(path)), config), config
