"""Summaries of scored metrics: mean and interval per metric (and per slice), JSON-ready.

The one rule for a metric's interval, used by ``harness score`` and by the run summaries
(``summary.json``) alike: Wilson for binary metrics, t (or BCa) otherwise, clipped to the metric's
score range. The caller passes each metric's ``bounds`` (the metric registry knows them; this
module does not import it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.io import json_safe
from harness.stats.intervals import mean_interval
from harness.stats.slices import slice_results, slice_values


def metric_summary(per_example: Sequence[float | None], kind: str, corpus: Mapping[str, Any] | None = None,
                   bounds: tuple[float, float] | None = None, method: str = "auto") -> dict[str, Any]:
    """``{"mean", "ci": [lo, hi] | None, "n", "method", "error"?, "corpus"?}`` for one metric's scores.

    ``method="auto"`` is Wilson for binary metrics and t otherwise; ``"t"``/``"bca"`` force the
    continuous interval (binary metrics keep Wilson). ``bounds`` clips the interval to the metric's
    score range. ``ci`` is None when no interval could be computed (no data, one unit: ``error`` says which).
    """
    chosen = "auto" if kind == "binary" else method
    interval = mean_interval(per_example, kind, method=chosen, bounds=bounds)  # type: ignore[arg-type]
    has_ci = interval.n > 0 and not (math.isnan(interval.low) and math.isnan(interval.high))
    entry: dict[str, Any] = {"mean": json_safe(interval.estimate) if interval.n else None,
                             "ci": interval.as_list() if has_ci else None, "n": interval.n,
                             "method": interval.method}
    if interval.error:
        entry["error"] = interval.error
    if corpus:
        entry["corpus"] = json_safe(dict(corpus))
    return entry


def summarize_outputs(n: int, outputs: Mapping[str, Any], metadata: Sequence[Mapping[str, Any]] | None = None,
                      slice_by: str | None = None, method: str = "auto",
                      bounds: Mapping[str, tuple[float, float] | None] | None = None) -> dict[str, Any]:
    """``{"n": N, "metrics": {name: metric_summary}, "slices"?: {name: [...]}}`` for MetricOutputs.

    ``bounds[name]`` is each metric's score range (missing names are unbounded).
    """
    bounds = bounds or {}
    summary: dict[str, Any] = {"n": n, "metrics": {name: metric_summary(out.per_example, out.kind, out.corpus,
                                                                        bounds.get(name), method)
                                                    for name, out in outputs.items()}}
    if slice_by and metadata is not None:
        groups = slice_values(metadata, slice_by)
        summary["slices"] = {
            name: [{"value": s.value, "mean": json_safe(s.interval.estimate), "ci": s.interval.as_list(),
                    "n": s.interval.n}
                   for s in slice_results(out.per_example, groups, slice_by, out.kind, bounds=bounds.get(name))]
            for name, out in outputs.items()}
    return summary
