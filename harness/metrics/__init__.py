"""Metrics: a registry of small scorers (``@metric("name")``) and :func:`score_examples`."""

from harness.metrics.base import (
    Example,
    Metric,
    MetricInfo,
    MetricOutput,
    MetricSpec,
    available_metrics,
    get_metric,
    metric,
    metric_info,
    metric_spec,
    resolve_metrics,
    score_examples,
)

__all__ = ["Example", "Metric", "MetricInfo", "MetricOutput", "MetricSpec", "available_metrics", "get_metric",
           "metric", "metric_info", "metric_spec", "resolve_metrics", "score_examples"]
