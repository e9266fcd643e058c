"""Summaries of scored metrics: mean and interval per metric (and per slice), JSON-ready."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.stats.intervals import mean_interval
from harness.stats.slices import slice_results, slice_values


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def metric_summary(per_example: Sequence[float | None], kind: str, corpus: Mapping[str, Any] | None = None,
                   bounds: tuple[float, float] | None = None, method: str = "auto") -> dict[str, Any]:
    """``{"mean", "ci": [lo, hi], "n", "method", "error"?, "corpus"?}`` for one metric's scores.

    ``method="auto"`` is Wilson for binary metrics and t otherwise; ``"t"``/``"bca"`` force the
    continuous interval (binary metrics keep Wilson).
    """
    chosen = "auto" if kind == "binary" else method
    interval = mean_interval(per_example, kind, method=chosen, bounds=bounds)  # type: ignore[arg-type]
    entry: dict[str, Any] = {"mean": _clean(interval.estimate) if interval.n else None,
                             "ci": interval.as_list() if interval.n else None, "n": interval.n,
                             "method": interval.method}
    if interval.error:
        entry["error"] = interval.error
    if corpus:
        entry["corpus"] = _clean(dict(corpus))
    return entry


def summarize_outputs(n: int, outputs: Mapping[str, Any], metadata: Sequence[Mapping[str, Any]] | None = None,
                      slice_by: str | None = None, method: str = "auto") -> dict[str, Any]:
    """``{"n": N, "metrics": {name: metric_summary}, "slices"?: {name: [...]}}`` for MetricOutputs."""
    from harness.metrics._shared import metric_bounds

    summary: dict[str, Any] = {"n": n, "metrics": {name: metric_summary(out.per_example, out.kind, out.corpus,
                                                                        metric_bounds(name), method)
                                                    for name, out in outputs.items()}}
    if slice_by and metadata is not None:
        groups = slice_values(metadata, slice_by)
        summary["slices"] = {
            name: [{"value": s.value, "mean": _clean(s.interval.estimate), "ci": s.interval.as_list(), "n": s.interval.n}
                   for s in slice_results(out.per_example, groups, slice_by, out.kind, bounds=metric_bounds(name))]
            for name, out in outputs.items()}
    return summary
