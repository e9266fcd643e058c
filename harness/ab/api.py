"""The Python entry points of A/B analysis: the same three inputs as ``harness ab analyze``.

>>> result, decision = analyze_events_file(Path("events.csv"), AnalysisConfig(control="base"))
>>> report = to_report(result, decision)        # the ``--json`` object
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.ab.analysis import AnalysisResult, analyze
from harness.ab.config import AnalysisConfig, config_from_dict, default_store_metrics
from harness.ab.decision import Decision, decide

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def analyze_experiment(engine: Engine, name: str, config: AnalysisConfig | None = None) -> tuple[AnalysisResult, Decision]:
    """Analyse a stored experiment (aggregated in SQL); returns the result and the decision.

    The experiment's own control and weights (and its stored config) apply unless ``config`` sets them.
    """
    from harness.ab.collect import collect
    from harness.ab.store_source import StoreSource

    source = StoreSource(engine, name)
    config = config or AnalysisConfig()
    stored = source.info.config
    if stored and not config.metrics:
        base = config_from_dict(stored, source=f"experiment {name!r} config")
        config = replace(config, metrics=base.metrics, primary=config.primary or base.primary)
    config = replace(config, metrics=config.metrics or default_store_metrics(),
                     control=config.control or source.info.control, weights=config.weights or source.info.weights)
    result = analyze(collect(source, config), config)
    return result, decide(result)


def analyze_events_file(path: Path, config: AnalysisConfig | None = None) -> tuple[AnalysisResult, Decision]:
    """Analyse a CSV/Parquet events file (aggregated with pandas); returns the result and the decision."""
    from harness.ab.load_file import load_events_file

    data, config = load_events_file(Path(path), config or AnalysisConfig())
    result = analyze(data, config)
    return result, decide(result)


def analyze_summary(path: Path, config: AnalysisConfig | None = None) -> tuple[AnalysisResult, Decision]:
    """Analyse per-variant sufficient statistics from a JSON file; returns the result and the decision."""
    from harness.ab.load_summary import load_summary

    data, config = load_summary(Path(path), config or AnalysisConfig())
    result = analyze(data, config)
    return result, decide(result)


def to_report(result: AnalysisResult, decision: Decision) -> dict:
    """The ``--json`` object: ``srm``, ``metrics``, ``decision`` and context."""
    out = result.to_dict()
    out["decision"] = decision.to_dict()
    return out
