"""Per-slice results: a metric's mean and interval for each value of a metadata field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.stats.intervals import Interval, mean_interval

MISSING = "(missing)"


@dataclass(frozen=True)
class SliceResult:
    """One slice (``field == value``): its interval for the metric mean (``interval.n`` examples)."""

    field: str
    value: str
    interval: Interval


def slice_values(metadata: Sequence[Mapping[str, Any] | None], field: str) -> list[str]:
    """The slice key of each example: ``str(metadata[field])`` or ``"(missing)"``."""
    keys = []
    for item in metadata:
        value = (item or {}).get(field)
        keys.append(MISSING if value is None else str(value))
    return keys


def slice_results(scores: Sequence[float | None], groups: Sequence[str], field: str, kind: str = "continuous",
                  confidence: float = 0.95, min_size: int = 1,
                  bounds: tuple[float, float] | None = None) -> tuple[SliceResult, ...]:
    """Intervals of the mean score per group (sorted by group name); groups under ``min_size`` dropped.

    ``scores`` and ``groups`` are aligned (one group key per example, see :func:`slice_values`).
    """
    if len(scores) != len(groups):
        raise ValueError(f"{len(scores)} scores but {len(groups)} group keys")
    by_group: dict[str, list[float | None]] = {}
    for score, group in zip(scores, groups, strict=True):
        by_group.setdefault(group, []).append(score)
    results = []
    for group in sorted(by_group):
        values = by_group[group]
        if sum(v is not None for v in values) >= min_size:
            results.append(SliceResult(field, group, mean_interval(values, kind, confidence=confidence, bounds=bounds)))
    return tuple(results)
