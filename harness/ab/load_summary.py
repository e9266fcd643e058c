"""Per-variant sufficient statistics from a JSON file (``--summary``), e.g. aggregated by SQL elsewhere.

Format::

    {"variants": {"A": {"n": 3407, "metrics": {
        "revenue":   {"sum": 1234.5, "sum_squares": 9876.0},          # mean
        "converted": {"successes": 412},                              # proportion
        "cost_per_request": {"numerator_sum": ..., "numerator_sum_squares": ...,
                             "denominator_sum": ..., "denominator_sum_squares": ..., "cross_sum": ...},
        "latency_p95": {"estimate": 2.31, "se": 0.04}}}},              # quantile
     "days": 7, "control": "A", "weights": {"A": 0.5, "B": 0.5},       # optional
     "primary": "converted"}                                          # optional: the deciding metric

For CUPED (with ``--cuped NAME``), a mean may add ``covariate_sum``, ``covariate_sum_squares`` and
``covariate_cross_sum`` (sum of metric times covariate); a ratio may add ``covariate_sum``,
``covariate_sum_squares``, ``numerator_covariate_cross_sum`` and ``denominator_covariate_cross_sum``.
Any metric may carry its own ``n`` (at most the variant's). Each metric type declares its fields
(``summary_keys``, ``summary_cuped_keys``) and builds its statistic from them (:mod:`harness.ab.metric_types`).

Numbers that no data can produce are errors naming the field (:func:`check_sums`): a sum of squares
below ``sum^2 / n``, a cross sum beyond Cauchy-Schwarz, sums with ``n = 0``, successes outside [0, n],
a negative standard error, negative ``days``, weights that are not positive. Without ``--metric``
and ``--primary`` (or ``primary`` in the file) the primary metric is the only one that is not a guardrail
(latency, cost, ...), else the analysis asks for ``--primary``.
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

#: sum field -> its sum-of-squares field (per unit values x: sum x, sum x^2)
SQUARES = {"sum": "sum_squares", "numerator_sum": "numerator_sum_squares",
           "denominator_sum": "denominator_sum_squares", "covariate_sum": "covariate_sum_squares"}
#: cross-sum field -> the two sum fields whose per-unit values it multiplies
CROSS = {"cross_sum": ("numerator_sum", "denominator_sum"), "covariate_cross_sum": ("sum", "covariate_sum"),
         "numerator_covariate_cross_sum": ("numerator_sum", "covariate_sum"),
         "denominator_covariate_cross_sum": ("denominator_sum", "covariate_sum")}
#: relative rounding allowed in sums of squares and cross sums (a SUM in SQL over millions of rows)
REL_TOL = 1e-8


def _bad(path: Path, message: str, hint: str | None = None) -> DataError:
    """A summary whose content cannot be used (bad data: exit code 1)."""
    return DataError(f"summary {path}: {message}", hint=hint, exit_code=1)


def _number(value: Any, field: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(path, f"field {field} must be a finite number, got {value!r}")
    return float(value)


def _count(value: Any, field: str, path: Path) -> int:
    n = _number(value, field, path)
    if n < 0 or n != int(n):
        raise _bad(path, f"field {field} must be a non-negative integer, got {value!r}",
                   hint="n counts units (randomisation units with data)")
    return int(n)


def check_sums(values: dict[str, float], n: int, where: str, path: Path) -> None:
    """Raise :class:`DataError` naming the field when ``values`` (one metric of one variant, ``n`` units)
    cannot come from any data; returns nothing otherwise.

    Checks: with ``n = 0`` every sum is 0; ``0 <= successes <= n``; ``se >= 0``; each sum of squares
    ``>= sum^2 / n`` (a variance cannot be negative) and each cross sum within Cauchy-Schwarz of its two
    sums, both up to a relative rounding of :data:`REL_TOL`.
    """
    fix = "recompute the sums over the same units (sum of x, sum of x*x, n = number of units)"
    if "successes" in values and not 0 <= values["successes"] <= n:
        raise _bad(path, f"field {where}.successes must be between 0 and n={n}, got {values['successes']:g}",
                   hint="successes count units with a success; n counts all units of the variant")
    if values.get("se", 0.0) < 0:
        raise _bad(path, f"field {where}.se must be >= 0, got {values['se']:g}", hint="a standard error is never negative")
    if n == 0:
        nonzero = next((k for k in (*SQUARES, *SQUARES.values(), *CROSS) if values.get(k)), None)
        if nonzero:
            raise _bad(path, f"field {where}.{nonzero} is {values[nonzero]:g} with n = 0 units",
                       hint=f"with no units every sum is 0: check n, or {fix}")
        return
    centered: dict[str, float] = {}  # sum field -> sum of squared deviations
    for total, squares in SQUARES.items():
        if total not in values or squares not in values:
            continue
        s, ss = values[total], values[squares]
        floor = s * s / n
        if ss < floor - REL_TOL * max(abs(ss), floor) - 1e-12:
            raise _bad(path, f"field {where}.{squares} = {ss:g} is below {total}^2 / n = {floor:g}, which no "
                             "data can produce (the variance would be negative)", hint=fix)
        centered[total] = max(ss - floor, 0.0)
    for cross, (a, b) in CROSS.items():
        if cross not in values or a not in centered or b not in centered:
            continue
        c = values[cross] - values[a] * values[b] / n
        scale = math.sqrt(values[SQUARES[a]] * values[SQUARES[b]])
        if abs(c) > math.sqrt(centered[a] * centered[b]) + REL_TOL * scale + 1e-12:
            raise _bad(path, f"field {where}.{cross} = {values[cross]:g} is impossible with {a} and {b}: the "
                             "covariance it implies exceeds the product of the standard deviations", hint=fix)


def _infer_type(stats: dict[str, Any]) -> str | None:
    """The first registered type whose first summary field is in ``stats`` (``successes``: a proportion)."""
    return next((t.name for t in metric_types() if t.summary_keys and t.summary_keys[0] in stats), None)


def load_summary(path: Path, config: AnalysisConfig) -> tuple[ExperimentData, AnalysisConfig]:
    """Read and validate a summary file; returns the data and the config (metrics, control, weights filled)."""
    from harness.config_files import read_config_text
    from harness.io import lone_surrogate_at

    if not path.exists():
        raise DataError(f"summary file {path} does not exist", hint="check the path given to --summary")
    text = read_config_text(path, kind="summary")
    if not text.strip():
        raise DataError(f"summary file {path} is empty", hint='expected {"variants": {"A": {"n": ..., "metrics": {...}}}}',
                        exit_code=1)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"summary file {path}: invalid JSON at line {exc.lineno}: {exc.msg}", exit_code=1) from None
    except (ValueError, RecursionError) as exc:  # json's limit on integer digits; deep nesting
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
        raise DataError(f"summary file {path}: invalid JSON ({what})", exit_code=1) from None
    if (where := lone_surrogate_at(raw)) is not None:
        raise DataError(f"summary file {path}: {where} holds a lone surrogate escape, not valid Unicode",
                        hint="fix or remove the \\ud800-\\udfff escape", exit_code=1)
    if not isinstance(raw, dict) or not isinstance(raw.get("variants"), dict) or not raw["variants"]:
        raise _bad(path, "field 'variants' is missing or not a non-empty object",
                   hint='expected {"variants": {"A": {"n": 3407, "metrics": {"m": {"sum": ..., "sum_squares": ...}}}}}')
    variants: dict[str, dict] = raw["variants"]
    units: dict[str, int] = {}
    for name, body in variants.items():
        if not isinstance(body, dict):
            raise _bad(path, f"field variants.{name} must be an object with 'n' and 'metrics'")
        units[name] = _count(body.get("n"), f"variants.{name}.n", path)
        if not isinstance(body.get("metrics", {}), dict):
            raise _bad(path, f"field variants.{name}.metrics must be an object")

    specs = list(config.metrics)
    if not specs:
        seen: dict[str, str] = {}
        for name, body in variants.items():
            for metric, stats in body.get("metrics", {}).items():
                kind = _infer_type(stats) if isinstance(stats, dict) else None
                if kind is None:
                    firsts = ", ".join(t.summary_keys[0] for t in metric_types() if t.summary_keys)
                    raise _bad(path, f"field variants.{name}.metrics.{metric} has none of {firsts}",
                               hint="proportions: {\"successes\": k}; means: {\"sum\", \"sum_squares\"}")
                seen.setdefault(metric, kind)
        specs = [MetricSpec(m, k, numerator=m) for m, k in seen.items()]  # a ratio needs a numerator name
        if specs and config.primary is None and not isinstance(raw.get("primary"), str):
            config = replace(config, metrics=tuple(specs)).with_inferred_primary(f"summary {path}")
    if not specs:
        raise _bad(path, "no metrics found under variants.*.metrics")

    data = ExperimentData(source=str(path), units=units)
    for spec in specs:
        kind = spec.metric_type
        cuped = bool(config.cuped_covariate) and kind.supports_cuped
        per: dict[str, object] = {}
        for name, body in variants.items():
            where = f"variants.{name}.metrics.{spec.name}"
            stats = body.get("metrics", {}).get(spec.name)
            if not isinstance(stats, dict):
                raise _bad(path, f"field {where} is missing", hint="every variant needs every metric")
            for key in kind.summary_keys:
                if key not in stats:
                    raise _bad(path, f"field {where}.{key} is missing",
                               hint=f"a {spec.type} metric needs {', '.join(kind.summary_keys)}")
            v = {k: _number(x, f"{where}.{k}", path) for k, x in stats.items()
                 if k in (*kind.summary_keys, *kind.summary_cuped_keys)}
            n = _count(stats["n"], f"{where}.n", path) if "n" in stats else units[name]
            if n > units[name]:
                raise _bad(path, f"field {where}.n = {n} is above the variant's n = {units[name]}",
                           hint="a metric's n counts the variant's units that have a value")
            check_sums(v, n, where, path)
            per[name] = kind.from_summary(v, n, cuped=cuped, where=f"summary {path}: field {where}")
        data.metrics[spec.name] = per

    if "days" in raw:
        data.days = _number(raw["days"], "days", path)
        if data.days < 0:
            raise _bad(path, f"field days must be >= 0, got {data.days:g}", hint="days: how long the experiment ran")
        if data.days > 0:
            data.units_per_day = sum(units.values()) / max(data.days, 1.0)
    changes: dict[str, Any] = {"metrics": tuple(specs)}
    names = [m.name for m in specs]
    if "primary" in raw and config.primary is None:
        if raw["primary"] not in names:
            raise _bad(path, f"field primary must name one of the metrics {names}, got {raw['primary']!r}",
                       hint="or leave it out and pass --primary NAME")
        changes["primary"] = raw["primary"]
    if "control" in raw and not isinstance(raw["control"], str):
        raise _bad(path, f"field control must be a variant name, got {raw['control']!r}")
    if config.control is None and isinstance(raw.get("control"), str):
        changes["control"] = raw["control"]
    if "weights" in raw and not isinstance(raw["weights"], dict):
        raise _bad(path, "field weights must be an object of variant: weight", hint='e.g. {"A": 0.5, "B": 0.5}')
    for k, w in (raw.get("weights") or {}).items():
        if not _number(w, f"weights.{k}", path) > 0:
            raise _bad(path, f"field weights.{k} must be > 0, got {w!r}", hint='e.g. {"A": 0.5, "B": 0.5}')
    if config.weights is None and raw.get("weights"):
        changes["weights"] = {k: float(w) for k, w in raw["weights"].items()}
    return data, replace(config, **changes)
