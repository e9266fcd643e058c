"""The metric plug-in point: a registry of small factories, Inspect-style.

A metric is registered with ``@metric("name", higher_is_better=..., bounds=...)`` on a factory whose
keyword parameters are its settings; the factory returns a :class:`Metric` (anything with ``name``,
``kind`` and ``compute(examples) -> MetricOutput``). The registry record (:class:`MetricInfo`,
:func:`metric_info`) carries what the rest of the harness needs to know without building the metric:
its direction, its score range and the settings it accepts. :func:`resolve_metrics` is the one
check of a metric list (a suite's ``metrics``, ``--metrics``) and :func:`score_examples` is what
runners and the CLI call to score.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from harness.errors import ConfigError

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


@dataclass(frozen=True)
class MetricInfo:
    """The registry record of a metric: its factory, direction and score range.

    ``higher_is_better`` is None when neither direction is better (e.g. ``length_ratio``, where
    closer to 1 is better); ``bounds`` is the ``(low, high)`` range of a per-example score, or None
    when unbounded (intervals of bounded scores are clipped to it).
    """

    name: str
    factory: Callable[..., Metric]
    higher_is_better: bool | None = True
    bounds: tuple[float, float] | None = None

    def accepted_settings(self) -> tuple[str, ...] | None:
        """Names of the factory's keyword parameters (its settings); None when it takes ``**kwargs``."""
        names = []
        for param in inspect.signature(self.factory).parameters.values():
            if param.kind is param.VAR_KEYWORD:
                return None
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.append(param.name)
        return tuple(names)

    def required_settings(self) -> tuple[str, ...]:
        """Settings without a default value (a suite must give them)."""
        return tuple(p.name for p in inspect.signature(self.factory).parameters.values()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.default is p.empty)


_REGISTRY: dict[str, MetricInfo] = {}


def metric(name: str, *, higher_is_better: bool | None = True,
           bounds: tuple[float, float] | None = None) -> Callable[[Callable[..., Metric]], Callable[..., Metric]]:
    """Register a metric factory under ``name`` with its direction and score range; returns the decorator.

    ``@metric("rougeL", bounds=(0.0, 1.0))``, ``@metric("latency", higher_is_better=False)``.
    """
    if bounds is not None and not (len(bounds) == 2 and float(bounds[0]) < float(bounds[1])):
        raise ValueError(f"metric {name!r}: bounds must be (low, high) with low < high, got {bounds!r}")

    def register(factory: Callable[..., Metric]) -> Callable[..., Metric]:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"metric {name!r} is registered twice")
        _REGISTRY[name] = MetricInfo(name, factory, higher_is_better,
                                     None if bounds is None else (float(bounds[0]), float(bounds[1])))
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


def metric_info(name: str) -> MetricInfo:
    """The :class:`MetricInfo` registered as ``name``; unknown names raise :class:`ConfigError` listing the choices."""
    _load_builtin_metrics()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown metric {name!r}", hint=f"available metrics: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def get_metric(name: str, **settings: Any) -> Metric:
    """Build the metric registered as ``name`` with ``settings``; unknown names list the choices."""
    return metric_info(name).factory(**settings)


@dataclass(frozen=True)
class MetricSpec:
    """A metric chosen by name with its settings (one entry of a suite's ``metrics``)."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Metric:
        """The metric built with its settings."""
        return get_metric(self.name, **self.settings)

    def as_entry(self) -> str | dict[str, dict[str, Any]]:
        """The suite-file form: the bare name, or ``{name: {setting: value}}`` when it has settings."""
        return {self.name: dict(self.settings)} if self.settings else self.name


def metric_spec(entry: Any) -> MetricSpec:
    """Check one metric entry (``"name"`` or ``{name: {setting: value}}``); returns its :class:`MetricSpec`.

    Raises :class:`ConfigError` (without a location; :func:`resolve_metrics` adds it) for an unknown
    metric, an unknown or missing setting, or an entry of another shape.
    """
    if isinstance(entry, MetricSpec):
        name, settings = entry.name, entry.settings
    elif isinstance(entry, str):
        name, settings = entry, {}
    elif isinstance(entry, Mapping) and len(entry) == 1:
        name, settings = next(iter(entry.items()))
        settings = {} if settings is None else settings
        if not isinstance(name, str) or not isinstance(settings, Mapping):
            raise ConfigError(f"the settings of metric {name!r} must be a mapping {{setting: value}}, "
                              f"got {type(settings).__name__}", hint=f"write {{{name}: {{setting: value}}}}")
    else:
        raise ConfigError(f"expected a metric name or a one-key mapping {{name: {{setting: value}}}}, got {entry!r}",
                          hint="e.g. metrics: [rougeL, {embedding_similarity: {model: all-MiniLM-L6-v2}}]")
    info = metric_info(name)
    accepted = info.accepted_settings()
    if accepted is not None:
        unknown = [key for key in settings if key not in accepted]
        if unknown:
            choices = ", ".join(accepted) if accepted else f"none ({name} takes no settings)"
            raise ConfigError(f"metric {name!r}: unknown setting {unknown[0]!r}", hint=f"accepted settings: {choices}")
    missing = [key for key in info.required_settings() if key not in settings]
    if missing:
        raise ConfigError(f"metric {name!r}: missing setting {missing[0]!r}",
                          hint=f"write {{{name}: {{{missing[0]}: ...}}}}")
    return MetricSpec(name, {str(k): v for k, v in settings.items()})


def resolve_metrics(entries: Sequence[Any], *, source: str | None = None, field_name: str = "metrics") -> list[MetricSpec]:
    """Check a metric list before any work starts; returns one :class:`MetricSpec` per entry.

    The one rule for ``harness eval`` (a suite's ``metrics``), ``score`` and ``compare``: each entry
    must name a registered metric and only settings its factory accepts, and no metric may be listed
    twice. Errors are :class:`ConfigError` located as ``SOURCE: metrics[i]: ...`` (``field_name=""``
    leaves out the index, e.g. for ``--metrics``).
    """
    specs: list[MetricSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = ": ".join(filter(None, [source, f"{field_name}[{i}]" if field_name else ""]))
        try:
            spec = metric_spec(entry)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc.message}" if where else exc.message, hint=exc.hint) from None
        if spec.name in seen:
            raise ConfigError(f"{where + ': ' if where else ''}metric {spec.name!r} is listed twice "
                              f"(first as {field_name or 'entry'}[{seen[spec.name]}])", hint="list each metric once")
        seen[spec.name] = i
        specs.append(spec)
    return specs


def score_examples(
    examples: Sequence[Example],
    metrics: Sequence[str | MetricSpec | Metric],
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, MetricOutput]:
    """Score ``examples`` with each metric (a name, a :class:`MetricSpec` or a built :class:`Metric`).

    ``settings[name]`` applies to metrics given by name. Returns the outputs by metric name.
    """
    settings = settings or {}
    outputs: dict[str, MetricOutput] = {}
    for item in metrics:
        if isinstance(item, str):
            built = get_metric(item, **settings.get(item, {}))
        elif isinstance(item, MetricSpec):
            built = item.build()
        else:
            built = item
        outputs[built.name] = built.compute(examples)
    return outputs
