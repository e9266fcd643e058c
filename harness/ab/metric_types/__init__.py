"""A/B metric types: one module per type (``proportion``, ``mean``, ``ratio``, ``quantile``) over a registry.

:func:`ab_metric_type` registers a :class:`MetricType` subclass; :func:`get_metric_type` returns the
type of a :class:`~harness.ab.config.MetricSpec`. Built-in types are imported on first lookup.
"""

from harness.ab.metric_types.base import (
    MetricType,
    ab_metric_type,
    get_metric_type,
    metric_type_for_flag,
    metric_type_names,
    metric_types,
)

__all__ = ["MetricType", "ab_metric_type", "get_metric_type", "metric_type_for_flag", "metric_type_names",
           "metric_types"]
