"""Per-variant sufficient statistics from a JSON file (``--summary``), e.g. aggregated by SQL elsewhere.

Format::

    {"variants": {"A": {"n": 3407, "metrics": {
        "revenue":   {"sum": 1234.5, "sum_squares": 9876.0},          # mean
        "converted": {"successes": 412},                              # proportion
        "cost_per_request": {"numerator_sum": ..., "numerator_sum_squares": ...,
                             "denominator_sum": ..., "denominator_sum_squares": ..., "cross_sum": ...},
        "latency_p95": {"estimate": 2.31, "se": 0.04}}}},              # quantile
     "days": 7, "control": "A", "weights": {"A": 0.5, "B": 0.5}}      # optional

For CUPED (with ``--cuped NAME``), a mean may add ``covariate_sum``, ``covariate_sum_squares`` and
``covariate_cross_sum`` (sum of metric times covariate); a ratio may add ``covariate_sum``,
``covariate_sum_squares``, ``numerator_covariate_cross_sum`` and ``denominator_covariate_cross_sum``.
Any metric may carry its own ``n``. Each metric type declares its fields (``summary_keys``,
``summary_cuped_keys``) and builds its statistic from them (:mod:`harness.ab.metric_types`).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.ab.config import AnalysisConfig, MetricSpec
from harness.ab.metric_types import metric_types
from harness.ab.sums import ExperimentData
from harness.errors import DataError


def _number(value: Any, field: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"summary {path}: field {field} must be a finite number, got {value!r}")
    return float(value)


def _infer_type(stats: dict[str, Any]) -> str | None:
    """The first registered type whose first summary field is in ``stats`` (``successes``: a proportion)."""
    return next((t.name for t in metric_types() if t.summary_keys and t.summary_keys[0] in stats), None)


def load_summary(path: Path, config: AnalysisConfig) -> tuple[ExperimentData, AnalysisConfig]:
    """Read and validate a summary file; returns the data and the config (metrics, control, weights filled)."""
    if not path.exists():
        raise DataError(f"summary file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise DataError(f"summary file {path} is empty", hint='expected {"variants": {"A": {"n": ..., "metrics": {...}}}}')
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"summary file {path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("variants"), dict) or not raw["variants"]:
        raise DataError(f"summary {path}: field 'variants' is missing or not a non-empty object",
                        hint='expected {"variants": {"A": {"n": 3407, "metrics": {"m": {"sum": ..., "sum_squares": ...}}}}}')
    variants: dict[str, dict] = raw["variants"]
    units: dict[str, int] = {}
    for name, body in variants.items():
        if not isinstance(body, dict):
            raise DataError(f"summary {path}: field variants.{name} must be an object with 'n' and 'metrics'")
        n = _number(body.get("n"), f"variants.{name}.n", path)
        if n < 0 or n != int(n):
            raise DataError(f"summary {path}: field variants.{name}.n must be a non-negative integer, got {n}")
        units[name] = int(n)
        if not isinstance(body.get("metrics", {}), dict):
            raise DataError(f"summary {path}: field variants.{name}.metrics must be an object")

    specs = list(config.metrics)
    if not specs:
        seen: dict[str, str] = {}
        for name, body in variants.items():
            for metric, stats in body.get("metrics", {}).items():
                kind = _infer_type(stats) if isinstance(stats, dict) else None
                if kind is None:
                    firsts = ", ".join(t.summary_keys[0] for t in metric_types() if t.summary_keys)
                    raise DataError(f"summary {path}: field variants.{name}.metrics.{metric} has none of {firsts}",
                                    hint="proportions: {\"successes\": k}; means: {\"sum\", \"sum_squares\"}")
                seen.setdefault(metric, kind)
        specs = [MetricSpec(m, k) for m, k in seen.items()]
    if not specs:
        raise DataError(f"summary {path}: no metrics found under variants.*.metrics")

    data = ExperimentData(source=str(path), units=units)
    for spec in specs:
        kind = spec.metric_type
        cuped = bool(config.cuped_covariate) and kind.supports_cuped
        per: dict[str, object] = {}
        for name, body in variants.items():
            where = f"variants.{name}.metrics.{spec.name}"
            stats = body.get("metrics", {}).get(spec.name)
            if not isinstance(stats, dict):
                raise DataError(f"summary {path}: field {where} is missing", hint="every variant needs every metric")
            for key in kind.summary_keys:
                if key not in stats:
                    raise DataError(f"summary {path}: field {where}.{key} is missing",
                                    hint=f"a {spec.type} metric needs {', '.join(kind.summary_keys)}")
            v = {k: _number(x, f"{where}.{k}", path) for k, x in stats.items()
                 if k in (*kind.summary_keys, *kind.summary_cuped_keys, "n")}
            per[name] = kind.from_summary(v, int(v.get("n", units[name])), cuped=cuped,
                                          where=f"summary {path}: field {where}")
        data.metrics[spec.name] = per

    if "days" in raw:
        data.days = _number(raw["days"], "days", path)
        if data.days > 0:
            data.units_per_day = sum(units.values()) / max(data.days, 1.0)
    changes: dict[str, Any] = {"metrics": tuple(specs)}
    if config.control is None and isinstance(raw.get("control"), str):
        changes["control"] = raw["control"]
    if config.weights is None and isinstance(raw.get("weights"), dict):
        changes["weights"] = {k: _number(w, f"weights.{k}", path) for k, w in raw["weights"].items()}
    return data, replace(config, **changes)
