"""Metrics: a registry of small scorers (``@metric("name")``) and :func:`score_examples`."""

from harness.metrics.base import (
    Example,
    Metric,
    MetricOutput,
    available_metrics,
    get_metric,
    metric,
    score_examples,
)

__all__ = ["Example", "Metric", "MetricOutput", "available_metrics", "get_metric", "metric", "score_examples"]
