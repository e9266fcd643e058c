"""The A/B metric-type plug-in point: one class per type, registered with ``@ab_metric_type("name")``.

A metric type owns everything that depends on the kind of metric (gbstats' statistic classes do the
same): which per-unit values it needs from an event source (:meth:`MetricType.pairs`), what it keeps
per variant from their sums (:meth:`MetricType.arm_statistic`), the mean and variance of each arm
from those sufficient statistics (:meth:`MetricType.estimates`), how its ``--metric`` flag and
summary-file fields read, and whether CUPED applies. Config, collection, analysis, the summary
loader and planning ask the type and never branch on its name, so a new type is one new module
(a built-in one in this package is found by its file; any other registers on import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import ConfigError, DataError

if TYPE_CHECKING:
    from harness.ab.collect import EventSource
    from harness.ab.config import MetricSpec
    from harness.ab.sums import Pair, PairSums
    from harness.stats.effects import ArmEstimate


class MetricType:
    """Base class of an A/B metric type; subclasses override :meth:`pairs` and :meth:`estimates` at least.

    Class attributes: ``supports_cuped`` (the analysis passes a covariate to :meth:`pairs` and
    ``cuped=True`` to the other hooks), ``default_aggregate`` (how a unit's events collapse to one
    value when the spec sets no ``aggregate``), ``plan_as`` (``"proportion"`` or ``"mean"``: how
    ``harness ab plan`` and "days still needed" size it; ``"mean"`` uses the per-unit SD),
    ``summary_keys`` (the fields a ``--summary`` file must give per variant; the first one also
    identifies the type when the summary names no types) and ``summary_cuped_keys`` (optional CUPED
    fields).
    """

    name: ClassVar[str] = ""
    supports_cuped: ClassVar[bool] = False
    default_aggregate: ClassVar[str] = "mean"
    plan_as: ClassVar[str] = "mean"
    summary_keys: ClassVar[tuple[str, ...]] = ()
    summary_cuped_keys: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ configuration

    def accepts_flag(self, kind: str) -> bool:
        """Whether ``--metric NAME:KIND:...`` means this type (its name; a type may accept aliases)."""
        return kind == self.name

    def flag_fields(self, name: str, kind: str, args: str | None, text: str) -> dict[str, Any]:
        """Return the :class:`~harness.ab.config.MetricSpec` fields (besides name and type) of a flag's ARGS.

        By default ARGS is the event column (``satisfaction:mean:rating``).
        """
        return {"column": args or None}

    def validate(self, spec: MetricSpec) -> None:
        """Raise :class:`ConfigError` (naming the metric) when ``spec`` is not a valid metric of this type."""

    def columns(self, spec: MetricSpec) -> list[str]:
        """Return the event columns the metric reads (``requests`` is implicit)."""
        return [spec.source_column]

    # ------------------------------------------------------------------ from events

    def thresholds(self, spec: MetricSpec, source: EventSource, variants: list[str],
                   alpha: float) -> dict[str, dict[str, float]]:
        """Return ``{UnitValue.key: {variant: cut-off}}`` for the ``le`` values of :meth:`pairs` (none by default).

        Called before the sums are computed, e.g. to find a quantile per variant.
        """
        return {}

    def pairs(self, spec: MetricSpec, covariate: str | None) -> list[Pair]:
        """Return the per-unit value pairs whose sums the metric needs (``covariate``: the CUPED column or None)."""
        raise NotImplementedError(f"metric type {self.name!r} does not define pairs()")

    def arm_statistic(self, spec: MetricSpec, sums: Sequence[PairSums], cuped: bool) -> object:
        """Return one variant's sufficient statistic from the sums of :meth:`pairs` (in that order)."""
        return sums[0]

    def arm_inputs(self, spec: MetricSpec, sums: Mapping[str, Sequence[PairSums]], *, source: EventSource,
                   thresholds: Mapping[str, Mapping[str, float]], alpha: float, cuped: bool) -> dict[str, object]:
        """Return ``{variant: statistic}``: :meth:`arm_statistic` per variant unless a type needs the source again."""
        return {v: self.arm_statistic(spec, s, cuped) for v, s in sums.items()}

    # ------------------------------------------------------------------ from a summary file

    def from_summary(self, values: Mapping[str, float], n: int, *, cuped: bool, where: str) -> object:
        """Return one variant's statistic from a summary file's numbers (``summary_keys`` are present).

        ``where`` names the field (``summary FILE: field variants.A.metrics.m``) for error messages.
        """
        raise DataError(f"{where}: a {self.name} metric cannot be read from a summary file",
                        hint="give its events (--events or --experiment) instead")

    # ------------------------------------------------------------------ statistics

    def estimates(self, spec: MetricSpec, inputs: Mapping[str, object],
                  cuped: bool) -> tuple[dict[str, ArmEstimate], float | None]:
        """Return each variant's :class:`~harness.stats.effects.ArmEstimate` (mean, variance of the mean,
        units) and the CUPED ``theta`` (``None`` when CUPED was not applied)."""
        raise NotImplementedError(f"metric type {self.name!r} does not define estimates()")


_REGISTRY: dict[str, MetricType] = {}
_BUILTINS_LOADED = False


def ab_metric_type(name: str):  # -> Callable[[type[MetricType]], type[MetricType]]
    """Register a :class:`MetricType` subclass under ``name``; returns the class decorator.

    ``@ab_metric_type("count") class CountType(MetricType): ...`` makes ``MetricSpec(type="count")``,
    ``--metric NAME:count`` and ``{type: count}`` in a config file work.
    """
    if not name or not name.isidentifier():
        raise ValueError(f"A/B metric type name must be an identifier, got {name!r}")

    def register(cls: type[MetricType]) -> type[MetricType]:
        known = _REGISTRY.get(name)
        if known is not None and _qualname(type(known)) != _qualname(cls):  # same class re-imported is fine
            raise ValueError(f"A/B metric type {name!r} is registered twice ({_qualname(type(known))}, "
                             f"{_qualname(cls)})")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return register


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _load_builtin_types() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    import importlib
    import pkgutil

    import harness.ab.metric_types as package

    _BUILTINS_LOADED = True
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{package.__name__}.{info.name}")


def metric_type_names() -> list[str]:
    """Names of all registered A/B metric types, in registration order (built-ins first)."""
    _load_builtin_types()
    return list(_REGISTRY)


def metric_types() -> list[MetricType]:
    """Every registered A/B metric type, in registration order (built-ins first)."""
    _load_builtin_types()
    return list(_REGISTRY.values())


def get_metric_type(name: str, *, where: str = "metric") -> MetricType:
    """Return the type registered as ``name``; an unknown name raises :class:`ConfigError` listing the choices."""
    _load_builtin_types()
    if name not in _REGISTRY:
        raise ConfigError(f"{where}: unknown type {name!r}", hint=f"use one of {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def metric_type_for_flag(kind: str) -> MetricType | None:
    """Return the type that ``--metric NAME:KIND`` means (by name, then aliases such as ``p95``), or ``None``."""
    _load_builtin_types()
    if kind in _REGISTRY:
        return _REGISTRY[kind]
    return next((t for t in _REGISTRY.values() if t.accepts_flag(kind)), None)
