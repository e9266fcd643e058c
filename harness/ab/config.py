"""Typed experiment-analysis configuration: metrics, roles, control, weights, test options.

Loaded from a YAML/JSON file (``--config``) and/or CLI flags (flags win). Validation errors name the
field and say what to change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.ab.metric_types import get_metric_type, metric_type_for_flag
from harness.ab.sums import REQUESTS
from harness.errors import ConfigError

ROLES = ("primary", "secondary", "guardrail")
CORRECTIONS = ("holm", "bh", "bonferroni", "none")
AGGREGATES = ("sum", "mean", "max")
#: Alpha-spending functions of a group-sequential analysis (:mod:`harness.stats.group_sequential`).
SPENDING = ("obrien-fleming", "pocock")
#: Words that mark a metric as a cost to keep in check (a guardrail), never a default primary metric.
GUARDRAIL_WORDS = frozenset({"latency", "latencies", "cost", "costs", "token", "tokens", "fallback", "fallbacks",
                             "duration", "length", "timeout", "timeouts", "error", "errors", "ttft", "price",
                             "spend", "elapsed"})


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its type, the event columns it reads, and how the decision uses it.

    ``type`` names a registered A/B metric type (:mod:`harness.ab.metric_types`), which says what
    the other fields mean: ``proportion`` and ``mean`` read ``column`` (default: the metric's name)
    collapsed per unit by ``aggregate``; ``ratio`` divides ``numerator`` by ``denominator``
    (``requests`` = the unit's number of events); ``quantile`` reads the ``quantile`` of ``column``.
    """

    name: str
    type: str = "mean"
    column: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    quantile: float = 0.95
    aggregate: str | None = None
    role: str = "secondary"
    higher_is_better: bool = True
    margin: float = 0.0

    def __post_init__(self) -> None:
        where = f"metric {self.name!r}"
        kind = get_metric_type(self.type, where=where)
        if self.role not in ROLES:
            raise ConfigError(f"{where}: unknown role {self.role!r}", hint=f"use one of {', '.join(ROLES)}")
        kind.validate(self)
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ConfigError(f"{where}: unknown aggregate {self.aggregate!r}", hint=f"use one of {', '.join(AGGREGATES)}")
        if self.margin < 0:
            raise ConfigError(f"{where}: margin must be >= 0 (a relative tolerance like 0.05), got {self.margin}")

    @property
    def metric_type(self):  # -> harness.ab.metric_types.MetricType
        """The registered :class:`~harness.ab.metric_types.MetricType` of ``type``."""
        return get_metric_type(self.type, where=f"metric {self.name!r}")

    @property
    def source_column(self) -> str:
        """The event column a single-column metric (proportion, mean, quantile) reads."""
        return self.column or self.name

    @property
    def unit_aggregate(self) -> str:
        """How the metric's events collapse to one value per unit (``sum``, ``mean`` or ``max``)."""
        return self.aggregate or self.metric_type.default_aggregate

    def columns(self) -> list[str]:
        """Return the event columns this metric needs (``requests`` is implicit)."""
        return self.metric_type.columns(self)

    @property
    def guardrail_like(self) -> bool:
        """Whether the metric is a guardrail or reads like one (latency, cost, tokens, fallbacks, errors, length).

        Such a metric becomes the primary metric only when named (``--primary`` or role ``primary``).
        """
        words = {w for text in (self.name, *self.columns()) for w in re.split(r"[^a-z0-9]+", text.lower())}
        return self.role == "guardrail" or bool(words & GUARDRAIL_WORDS)


@dataclass(frozen=True)
class AnalysisConfig:
    """Everything ``harness ab analyze`` needs besides the data."""

    metrics: tuple[MetricSpec, ...] = ()
    control: str | None = None
    weights: dict[str, float] | None = None
    primary: str | None = None
    correction: str = "holm"
    sequential: bool = True
    tuning_units: float = 5000
    alpha: float = 0.05
    cuped_covariate: str | None = None
    mde: float = 0.05
    power: float = 0.8
    srm_threshold: float = 0.001
    min_days: int = 7
    guardrails: dict[str, float] | None = None  # name -> margin; marks those metrics as guardrails
    planned_units: float | None = None  # a horizon (units across all variants): group-sequential analysis
    spending: str | None = None  # obrien-fleming (default) or pocock, for a group-sequential analysis

    def __post_init__(self) -> None:
        if self.correction not in CORRECTIONS:
            raise ConfigError(f"unknown correction {self.correction!r}", hint=f"use one of {', '.join(CORRECTIONS)}")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"alpha must be in (0, 0.5), got {self.alpha}", hint="e.g. 0.05")
        if not 0 < self.power < 1:
            raise ConfigError(f"power must be in (0, 1), got {self.power}", hint="e.g. 0.8 for 80% power")
        if not (math.isfinite(self.mde) and self.mde > -1 and self.mde != 0):
            raise ConfigError(f"mde must be a relative change above -1 and not 0, got {self.mde}",
                              hint="e.g. 0.05 for a 5% change")
        if self.weights is not None and any(not w > 0 for w in self.weights.values()):
            raise ConfigError(f"weights must all be > 0, got {self.weights}", hint="e.g. control=0.5,treatment=0.5")
        if self.planned_units is not None and not self.planned_units > 0:
            raise ConfigError(f"planned_units must be > 0 (units across all variants), got {self.planned_units}",
                              hint="e.g. 20000, the total_units of harness ab plan")
        if self.spending is not None and self.spending not in SPENDING:
            raise ConfigError(f"unknown spending function {self.spending!r}", hint=f"use one of {', '.join(SPENDING)}")
        names = [m.name for m in self.metrics]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ConfigError(f"metric {sorted(dup)[0]!r} is defined twice", hint="give each metric a unique name")
        if self.primary is not None and self.metrics and self.primary not in names:
            raise ConfigError(f"primary metric {self.primary!r} is not among the metrics {names}",
                              hint="pass --primary with one of those names or add the metric")

    def resolved(self, source: str = "the data") -> AnalysisConfig:
        """Return a copy with ``guardrails`` applied to the metrics and every named metric checked to exist.

        A metric named in ``guardrails`` becomes a guardrail with that margin; a leading ``+`` in the name
        means higher is better (the default for guardrails is lower is better: latency, cost, length).
        """
        names = [m.name for m in self.metrics]
        if self.primary is not None and self.primary not in names:
            raise ConfigError(f"primary metric {self.primary!r} is not among the metrics of {source}: {names}",
                              hint="pass --primary with one of those names")
        out = self
        if self.guardrails:
            metrics = list(self.metrics)
            for raw, margin in self.guardrails.items():
                name = raw.lstrip("+")
                if name not in names:
                    raise ConfigError(f"guardrail {name!r} is not among the metrics of {source}: {names}",
                                      hint="name a metric (or add it with --metric)")
                i = names.index(name)
                metrics[i] = replace(metrics[i], role="guardrail", margin=margin,
                                     higher_is_better=raw.startswith("+"))
            out = replace(self, metrics=tuple(metrics), guardrails=None)
        return out

    def require_primary(self, source: str) -> str:
        """Return the primary metric's name (guardrails applied), or raise :class:`ConfigError` asking for
        ``--primary`` when every metric is a guardrail or reads like one (latency, cost, tokens, ...)."""
        name = self.resolved(source).primary_metric()
        if name is None:
            raise _no_primary(source, [m.name for m in self.metrics])
        return name

    def primary_metric(self) -> str | None:
        """The primary metric's name: ``primary``, else the metric with role primary, else the first metric
        that is not :attr:`~MetricSpec.guardrail_like`; ``None`` when there is none (a guardrail is never
        the primary metric by default: ``harness ab analyze`` asks for ``--primary``, see :meth:`require_primary`)."""
        if self.primary:
            return self.primary
        for m in self.metrics:
            if m.role == "primary":
                return m.name
        return next((m.name for m in self.metrics if not m.guardrail_like), None)

    def with_inferred_primary(self, source: str) -> AnalysisConfig:
        """Return the config of metrics inferred from ``source`` with its primary metric, or ask for one.

        Inferred metrics come in the file's order, which says nothing about what matters: unless
        ``primary`` or a metric with role primary says so, the one metric that is not a guardrail (and
        does not read like one) is primary; with none or several, :class:`ConfigError` asks for ``--primary``.
        """
        if self.primary or any(m.role == "primary" for m in self.metrics):
            return self
        candidates = [m.name for m in self.metrics if not m.guardrail_like]
        if len(candidates) == 1:
            return replace(self, primary=candidates[0])
        names = [m.name for m in self.metrics]
        if not candidates:
            raise _no_primary(source, names)
        raise ConfigError(f"which metric decides? {source} has {len(candidates)} candidate primary metrics "
                          f"({', '.join(candidates)}) and none is marked primary",
                          hint=f"pass --primary NAME, e.g. --primary {candidates[0]}")

    def with_overrides(self, **changes: Any) -> AnalysisConfig:
        """Return a copy with every non-``None`` value in ``changes`` applied (CLI flags over the file)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _no_primary(source: str, names: list[str]) -> ConfigError:
    """The error asking for ``--primary`` when every metric is a guardrail (or reads like one)."""
    return ConfigError(f"no primary metric for {source}: every metric ({', '.join(names)}) is a guardrail or reads "
                       "like one (latency, cost, tokens, fallbacks, errors, length), and a guardrail is never the "
                       "primary metric by default", hint=f"name the metric to decide on with --primary NAME (e.g. "
                       f"--primary {names[0]}), or add one with --metric NAME:TYPE")


_SPEC = re.compile(r"^(?P<name>[A-Za-z_][\w.\-]*)(?::(?P<type>\w+))?(?::(?P<args>.+))?$")


def parse_metric_flag(text: str) -> MetricSpec:
    """Parse ``NAME[:TYPE[:ARGS]]`` from ``--metric`` into a :class:`MetricSpec`.

    Examples: ``task_completed:proportion``, ``satisfaction:mean``, ``cost_per_request:ratio:cost/requests``,
    ``latency_p95:quantile:latency_s@0.95`` (also ``p95`` as a type: ``latency_p95:p95:latency_s``).
    """
    m = _SPEC.match(text.strip())
    if not m:
        raise ConfigError(f"--metric {text!r} is not NAME[:TYPE[:ARGS]]",
                          hint="e.g. task_completed:proportion or cost_per_request:ratio:cost/requests")
    name, kind, args = m["name"], (m["type"] or "mean").lower(), m["args"]
    metric_type = metric_type_for_flag(kind)
    if metric_type is None:  # MetricSpec names the unknown type and lists the known ones
        return MetricSpec(name, kind, column=args or None)
    return MetricSpec(name, metric_type.name, **metric_type.flag_fields(name, kind, args, text))


def parse_weights(text: str, *, option: str = "--weights", example: str = "control=0.5,treatment=0.5",
                  what: str = "NAME=WEIGHT") -> dict[str, float]:
    """Parse ``A=0.5,B=0.5`` (or ``A=1,B=1``) into a mapping of names to numbers.

    ``option`` and ``example`` word the error for the flag the value came from (``--variants``,
    ``--effect`` ...), so a hint never names an option the command does not have.
    """
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"{option} {text!r}: {part!r} is not {what}",
                              hint=f"e.g. {option} {example}") from None
    return out


def parse_guardrail_flag(text: str) -> tuple[str, float]:
    """Parse ``[+]NAME[:MARGIN]`` (margin relative, default 0) from ``--guardrail``."""
    name, _, margin = text.partition(":")
    try:
        value = float(margin) if margin else 0.0
    except ValueError:
        raise ConfigError(f"--guardrail {text!r}: margin {margin!r} is not a number",
                          hint="e.g. --guardrail latency_s:0.05 for a 5% non-inferiority margin") from None
    if value < 0:
        raise ConfigError(f"--guardrail {text!r}: margin must be >= 0")
    return name, value


def load_config(path: Path) -> AnalysisConfig:
    """Read an analysis config from YAML or JSON; unknown keys are an error naming the key."""
    from harness.config_files import parse_yaml, read_config_text

    if not path.exists():
        raise ConfigError(f"config file {path} does not exist", hint="check the path given to --config")
    raw = parse_yaml(read_config_text(path, kind="config"), path) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys like metrics, control, weights")
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: dict[str, Any], *, source: str = "config") -> AnalysisConfig:
    """Build an :class:`AnalysisConfig` from a plain mapping (the config file's content)."""
    known = set(AnalysisConfig.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown key {unknown[0]!r}", hint=f"known keys: {', '.join(sorted(known))}")
    data = dict(raw)
    metrics = data.pop("metrics", []) or []
    if isinstance(metrics, dict):  # {name: {type: ...}}
        metrics = [{"name": k, **(v or {})} for k, v in metrics.items()]
    specs = []
    fields = set(MetricSpec.__dataclass_fields__)
    for i, m in enumerate(metrics):
        if isinstance(m, str):
            specs.append(parse_metric_flag(m))
            continue
        if not isinstance(m, dict) or "name" not in m:
            raise ConfigError(f"{source}: metrics[{i}] needs a 'name'", hint="e.g. {name: task_completed, type: proportion}")
        bad = sorted(set(m) - fields)
        if bad:
            raise ConfigError(f"{source}: metrics[{i}] ({m['name']}): unknown key {bad[0]!r}",
                              hint=f"known keys: {', '.join(sorted(fields))}")
        specs.append(MetricSpec(**m))
    try:
        return AnalysisConfig(metrics=tuple(specs), **data)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ConfigError as exc:  # a value out of range: say which file holds it
        raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None


def default_store_metrics() -> tuple[MetricSpec, ...]:
    """The metrics every LLM experiment reports (columns of the event store).

    Task completion is primary; satisfaction and escalation are secondary; latency (mean and p95),
    cost per request and response length are guardrails with 5% (10% for p95) non-inferiority margins.
    """
    return (
        MetricSpec("task_completed", "ratio", numerator="task_completed", denominator=REQUESTS, role="primary"),
        MetricSpec("satisfaction", "ratio", numerator="satisfaction", denominator="count:satisfaction"),
        MetricSpec("escalated", "ratio", numerator="escalated", denominator=REQUESTS, higher_is_better=False),
        MetricSpec("latency_mean", "ratio", numerator="latency_s", denominator=REQUESTS, role="guardrail",
                   higher_is_better=False, margin=0.05),
        MetricSpec("latency_p95", "quantile", column="latency_s", quantile=0.95, role="guardrail",
                   higher_is_better=False, margin=0.10),
        MetricSpec("cost_per_request", "ratio", numerator="cost", denominator=REQUESTS, role="guardrail",
                   higher_is_better=False, margin=0.05),
        MetricSpec("response_length", "ratio", numerator="response_tokens", denominator=REQUESTS,
                   role="guardrail", higher_is_better=False, margin=0.10),
    )


def with_defaults(config: AnalysisConfig, metrics: tuple[MetricSpec, ...]) -> AnalysisConfig:
    """Return ``config`` with ``metrics`` filled in when it defines none."""
    return config if config.metrics else replace(config, metrics=metrics)
