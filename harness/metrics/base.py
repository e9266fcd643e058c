"""The metric plug-in point: a registry of small factories, Inspect-style.

A metric is registered with ``@metric("name")`` on a factory whose keyword parameters are its
settings; the factory returns a :class:`Metric` (anything with ``name``, ``kind`` and
``compute(examples) -> MetricOutput``). :func:`score_examples` is what runners and the CLI call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from harness.errors import HarnessError

MetricKind = Literal["binary", "continuous"]


@dataclass(frozen=True)
class Example:
    """One scored example: the shape of a predictions-file line (``harness score`` input)."""

    id: str
    prediction: str
    reference: str
    schema: Mapping[str, Any] | None = None
    label: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None


@dataclass(frozen=True)
class MetricOutput:
    """Per-example scores (``None`` where the metric does not apply) plus corpus-level values."""

    name: str
    kind: MetricKind
    per_example: tuple[float | None, ...]
    corpus: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Metric(Protocol):
    """What a registered factory returns."""

    name: str
    kind: MetricKind

    def compute(self, examples: Sequence[Example]) -> MetricOutput:
        """Score every example; returns per-example values aligned with ``examples``."""
        ...


_REGISTRY: dict[str, Callable[..., Metric]] = {}


def metric(name: str) -> Callable[[Callable[..., Metric]], Callable[..., Metric]]:
    """Register a metric factory under ``name`` (``@metric("rougeL")``)."""

    def register(factory: Callable[..., Metric]) -> Callable[..., Metric]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"metric {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return register


def _load_builtin_metrics() -> None:
    import importlib
    import pkgutil

    import harness.metrics as package

    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"harness.metrics.{info.name}")


def available_metrics() -> list[str]:
    """Names of all registered metrics (built-ins are imported on first call)."""
    _load_builtin_metrics()
    return sorted(_REGISTRY)


def get_metric(name: str, **settings: Any) -> Metric:
    """Build the metric registered as ``name`` with ``settings``; unknown names list the choices."""
    _load_builtin_metrics()
    if name not in _REGISTRY:
        raise HarnessError(f"unknown metric {name!r}", hint=f"available metrics: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**settings)


def score_examples(
    examples: Sequence[Example],
    metrics: Sequence[str | Metric],
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, MetricOutput]:
    """Score ``examples`` with each metric (a name or a built :class:`Metric`); returns outputs by name."""
    settings = settings or {}
    outputs: dict[str, MetricOutput] = {}
    for item in metrics:
        built = get_metric(item, **settings.get(item, {})) if isinstance(item, str) else item
        outputs[built.name] = built.compute(examples)
    return outputs
