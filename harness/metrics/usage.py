"""Usage metrics: ``length_ratio`` (verbosity), ``latency`` and ``cost``.

A support model can win on quality offline and lose in production by being too verbose or slow;
these put those numbers next to the quality metrics. Lower latency and cost are better; for
``length_ratio`` (prediction words / reference words) closer to 1 is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.metrics._shared import PerExampleMetric
from harness.metrics.base import Example, Metric, metric


def _present(scores: Sequence[float | None]) -> list[float]:
    return [s for s in scores if s is not None]


def _summary(_examples: Sequence[Example], scores: tuple[float | None, ...]) -> dict[str, Any]:
    values = sorted(_present(scores))
    if not values:
        return {"n": 0}
    median = values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
    p95 = values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]
    return {"n": len(values), "total": sum(values), "median": median, "p95": p95, "max": values[-1]}


@metric("length_ratio", higher_is_better=None, bounds=None)
def length_ratio() -> Metric:
    """Prediction words / reference words (whitespace split); None when the reference is empty."""

    def score(example: Example) -> float | None:
        ref_words = len((example.reference or "").split())
        return len((example.prediction or "").split()) / ref_words if ref_words else None

    return PerExampleMetric("length_ratio", "continuous", score, corpus=_summary)


@metric("latency", higher_is_better=False, bounds=None)
def latency() -> Metric:
    """Generation latency in seconds from the example's ``latency_s``; None when not recorded."""
    return PerExampleMetric("latency", "continuous", lambda ex: ex.latency_s, corpus=_summary)


@metric("cost", higher_is_better=False, bounds=None)
def cost() -> Metric:
    """Cost of the generation (the example's ``cost``, e.g. USD); None when not recorded."""
    return PerExampleMetric("cost", "continuous", lambda ex: ex.cost, corpus=_summary)
