"""The Python entry points of A/B analysis: the same three inputs as ``harness ab analyze``.

>>> result, decision = analyze_events_file(Path("events.csv"), AnalysisConfig(control="base"))
>>> report = to_report(result, decision)        # the ``--json`` object

Which method: with a planned horizon (``config.planned_units``, or the plan stored on a workspace
experiment by ``harness ab plan --experiment``) the primary metric is analysed group-sequentially
(:mod:`harness.ab.group_sequential`); without one, always-valid intervals (``config.sequential``,
the default) or fixed-horizon tests.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.ab.analysis import AnalysisResult, analyze
from harness.ab.config import AnalysisConfig, config_from_dict
from harness.ab.control import CONTROL_KEYS
from harness.ab.decision import Decision, decide
from harness.ab.group_sequential import GsLook, GsPlan, locate_look
from harness.errors import ConfigError
from harness.stats.sequential import DEFAULT_TUNING_UNITS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from harness.store.ab_plans import PlanInfo

DEFAULT_SPENDING = "obrien-fleming"


def analyze_experiment(engine: Engine, name: str, config: AnalysisConfig | None = None, *,
                       use_plan: bool = True, record_look: bool = True) -> tuple[AnalysisResult, Decision]:
    """Analyse a stored experiment (aggregated in SQL); returns the result and the decision.

    The experiment's own control and weights (and its stored config) apply unless ``config`` sets them.
    Under a plan (stored, or ``config.planned_units``) the analysis is group-sequential; with a stored
    plan this analysis is a look, recorded unless it re-analyses the units of a look already taken.
    ``use_plan=False`` (an explicit ``--sequential``/``--fixed-horizon``) ignores any plan and records nothing.
    ``record_look=False`` analyses the look as it stands without recording it (viewers on read-only
    connections: the app).
    """
    from harness.ab.collect import collect
    from harness.ab.gateway_source import default_metrics_for, open_event_source
    from harness.store.ab_plans import add_look, get_plan, list_looks

    source = open_event_source(engine, name)  # the gateway's requests when it logged any, else the events
    config = config or AnalysisConfig()
    stored = {k: v for k, v in source.info.config.items() if k not in CONTROL_KEYS}  # not analysis settings
    if stored and not config.metrics:
        base = config_from_dict(stored, source=f"experiment {name!r} config")
        config = replace(config, metrics=base.metrics, primary=config.primary or base.primary)
    config = replace(config, metrics=config.metrics or default_metrics_for(source),
                     control=config.control or source.info.control, weights=config.weights or source.info.weights)
    stored_plan = get_plan(engine, name)
    plan, reason = _experiment_plan(name, config, stored_plan, use_plan)
    if plan is not None and plan.primary_metric and config.primary is None \
            and plan.primary_metric in {m.name for m in config.metrics}:
        config = replace(config, primary=plan.primary_metric)
    config = with_plan_tuning(config, plan)
    data = collect(source, config)
    look = None
    if plan is not None:
        taken = [(x.units, x.fraction) for x in list_looks(engine, name)] if plan.stored else None
        look = locate_look(plan, sum(data.units.values()), taken,
                           unstored=f"experiment {name!r} has no stored plan: record one with harness ab plan "
                                    f"--experiment {name} to keep them")
    result = analyze(data, config, look, reason)
    gs = result.group_sequential
    if record_look and look is not None and gs is not None and look.new and plan is not None and plan.stored:
        add_look(engine, name, index=look.index, units=look.units, fraction=look.fraction,
                 z_boundary=gs.z if math.isfinite(gs.z) else None)
    return result, decide(result)


def _experiment_plan(name: str, config: AnalysisConfig, stored: PlanInfo | None,
                     use_plan: bool) -> tuple[GsPlan | None, str | None]:
    """Return the plan that applies (or ``None``) and, when a plan is set aside, the reason to print."""
    if not use_plan:
        if config.planned_units is not None:
            raise ConfigError("--planned-units asks for a group-sequential analysis; it cannot be combined "
                              "with --sequential or --fixed-horizon", hint="drop one of them")
        if stored is None:
            return None, None
        method = "always-valid" if config.sequential else "fixed-horizon"
        return None, (f"{method} (asked for with --{'sequential' if config.sequential else 'fixed-horizon'}); "
                      f"the plan stored on experiment {name!r} ({stored.planned_units:,} units) is not used "
                      "and no look is recorded")
    if stored is not None:
        if config.planned_units is not None and config.planned_units != stored.planned_units:
            raise ConfigError(f"--planned-units {config.planned_units:g} disagrees with the plan stored on "
                              f"experiment {name!r} ({stored.planned_units} units)",
                              hint="drop --planned-units to use the stored plan, or re-plan with harness ab plan "
                                   f"--experiment {name} --replace-plan")
        if config.spending is not None and config.spending != stored.spending:
            raise ConfigError(f"--spending {config.spending} disagrees with the plan stored on experiment {name!r} "
                              f"({stored.spending})", hint="drop --spending, or re-plan with --replace-plan")
        created = stored.created_at.strftime("%Y-%m-%d %H:%M UTC")
        return GsPlan(stored.planned_units, stored.alpha, stored.spending,
                      source=f"the plan stored on experiment {name!r} on {created}", stored=True,
                      planned_days=stored.planned_days, units_per_day=stored.units_per_day, looks=stored.looks,
                      primary_metric=stored.primary_metric, mde=stored.mde), None
    return _flag_plan(config), None


def _flag_plan(config: AnalysisConfig) -> GsPlan | None:
    """The plan given by ``config.planned_units`` (``--planned-units``), or ``None``."""
    if config.planned_units is None:
        return None
    return GsPlan(config.planned_units, config.alpha, config.spending or DEFAULT_SPENDING,
                  source=f"--planned-units {config.planned_units:g}")


def with_plan_tuning(config: AnalysisConfig, plan: GsPlan | None) -> AnalysisConfig:
    """Tune the other metrics' confidence sequences for the planned units, unless tuned explicitly."""
    if plan is None or config.tuning_units != DEFAULT_TUNING_UNITS:
        return config
    return replace(config, tuning_units=plan.planned_units)


def _file_look(plan: GsPlan | None, units: dict[str, int], kind: str) -> GsLook | None:
    if plan is None:
        return None
    return locate_look(plan, sum(units.values()), None, unstored=f"{kind} stores none")


def analyze_events_file(path: Path, config: AnalysisConfig | None = None) -> tuple[AnalysisResult, Decision]:
    """Analyse a CSV/Parquet events file (aggregated with pandas); returns the result and the decision.

    With ``config.planned_units`` it is a single group-sequential look at that fraction (nothing is stored).
    """
    from harness.ab.load_file import load_events_file

    data, config = load_events_file(Path(path), config or AnalysisConfig())
    plan = _flag_plan(config)
    result = analyze(data, with_plan_tuning(config, plan), _file_look(plan, data.units, "an events file"))
    return result, decide(result)


def analyze_summary(path: Path, config: AnalysisConfig | None = None) -> tuple[AnalysisResult, Decision]:
    """Analyse per-variant sufficient statistics from a JSON file; returns the result and the decision.

    With ``config.planned_units`` it is a single group-sequential look at that fraction (nothing is stored).
    """
    from harness.ab.load_summary import load_summary

    data, config = load_summary(Path(path), config or AnalysisConfig())
    plan = _flag_plan(config)
    result = analyze(data, with_plan_tuning(config, plan), _file_look(plan, data.units, "a summary file"))
    return result, decide(result)


def to_report(result: AnalysisResult, decision: Decision) -> dict:
    """The ``--json`` object: ``srm``, ``metrics``, ``decision`` and context."""
    out = result.to_dict()
    out["decision"] = decision.to_dict()
    return out
