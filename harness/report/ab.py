"""What the A/B page shows, as data: the experiments, and for one its analysis, timeline and plan.

- :func:`list_experiments`: every experiment in the store, simulated (``harness ab simulate``) or
  served by the gateway (``harness ab serve``), with its status, split, traffic and time span.
- :func:`experiment_view`: one experiment as ``harness ab analyze --experiment`` sees it (the same
  :func:`harness.ab.api.analyze_experiment` and decision), shaped for the page: one row per metric and
  treatment with absolute and relative effects and intervals (:func:`metric_table`), the cumulative
  effect over time with its always-valid interval (:func:`timeline_table`, from
  :func:`harness.ab.timeline.analyze_over_time`), the fallback rate per variant and the planning numbers
  (:func:`planning`).

Everything reads only: with a stored plan (``harness ab plan --experiment``) the CLI analyses
group-sequentially and records a look, which an app must not do, so the view shows the always-valid
analysis and says how to take the look. pandas is imported inside the functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from harness.ab.analysis import AnalysisResult
    from harness.ab.decision import Decision
    from harness.ab.timeline import TimelinePoint

#: The commands that put an experiment in the store (shown on an empty page).
SERVE_COMMAND = "harness ab serve gateway.yaml"
SIMULATE_COMMAND = "harness ab simulate --experiment demo-sim --effect task_completed=0.05"
#: Above this many events (or requests and outcomes), the view skips the day-by-day timeline (it copies them).
TIMELINE_MAX_ROWS = 2_000_000

METRIC_COLUMNS = ("metric", "role", "treatment", "control", "control_mean", "treatment_mean", "absolute",
                  "absolute_low", "absolute_high", "relative", "relative_low", "relative_high", "adjusted_p",
                  "chance_to_beat", "significant", "status", "margin", "higher_is_better", "error")
TIMELINE_COLUMNS = ("days", "time", "metric", "role", "treatment", "units", "absolute", "absolute_low",
                    "absolute_high", "relative", "relative_low", "relative_high", "significant", "action")


@dataclass(frozen=True)
class ExperimentSummary:
    """One experiment of the store: where its data comes from, its state and traffic.

    ``source`` is ``gateway`` (requests logged by ``harness ab serve``), ``simulated`` (events written
    by ``harness ab simulate`` or the Python API) or ``no data yet``; ``rows`` counts requests or events; ``first``/``last``
    are epoch seconds (``None`` without data).
    """

    name: str
    source: str
    status: str
    kill_switch: bool
    control: str
    weights: dict[str, float]
    units: int
    rows: int
    outcomes: int
    first: float | None
    last: float | None
    description: str = ""

    @property
    def days(self) -> float | None:
        """Days between the first and the last row (``None`` without data)."""
        if self.first is None or self.last is None:
            return None
        return (self.last - self.first) / 86400.0


@dataclass(frozen=True)
class Planning:
    """How far the primary metric is from detecting the configured MDE at the observed traffic.

    ``units_needed`` / ``units_needed_sequential``: total units for a fixed-horizon test and for the
    always-valid one (:func:`harness.ab.plan.plan`); ``days_still_needed`` is the decision's figure
    (``None`` when unknown); ``error`` says why no plan could be made (the other fields may be ``None``).
    """

    primary_metric: str | None
    mde: float
    power: float
    units_so_far: int
    units_per_day: float | None
    days_elapsed: float | None
    units_needed: int | None
    units_needed_sequential: int | None
    days_needed: float | None
    days_still_needed: float | None
    error: str | None = None


@dataclass(frozen=True)
class ExperimentView:
    """One experiment shaped for the page; ``report`` is the ``harness ab analyze --json`` object.

    ``metrics``: :func:`metric_table`; ``timeline``: :func:`timeline_table`; ``fallback``: requests and
    fallbacks per variant (empty for simulated experiments); ``notes``: what the page should say about
    how the numbers were made.
    """

    name: str
    report: dict[str, Any]
    metrics: pd.DataFrame
    timeline: pd.DataFrame
    fallback: pd.DataFrame
    planning: Planning
    notes: tuple[str, ...] = ()

    @property
    def decision(self) -> dict[str, Any]:
        """The decision entry: ``action``, ``reasons`` and ``days_still_needed``."""
        return self.report["decision"]

    @property
    def srm(self) -> dict[str, Any]:
        """The sample-ratio check: ``p_value``, ``flag``, ``observed`` and ``expected`` units per variant."""
        return self.report["srm"]


def _traffic(engine: Engine) -> dict[int, tuple[str, int, int, int, float | None, float | None]]:
    """Per experiment id: (source, units, rows, outcomes, first, last), from two grouped queries each."""
    from sqlalchemy import inspect, text

    out: dict[int, tuple[str, int, int, int, float | None, float | None]] = {}
    with engine.connect() as conn:
        for e, units, rows, first, last in conn.execute(text(
                "SELECT experiment_id, COUNT(*), COALESCE(SUM(n), 0), MIN(t_first), MAX(t_last) FROM ab_units "
                "GROUP BY experiment_id")):
            out[int(e)] = ("simulated", int(units), int(rows), 0, first, last)
        if not inspect(engine).has_table("ab_requests"):
            return out
        outcomes = dict(conn.execute(text("SELECT experiment_id, COUNT(*) FROM ab_outcomes GROUP BY experiment_id"))
                        .tuples().all())
        for e, units, rows, first, last in conn.execute(text(
                "SELECT experiment_id, COUNT(DISTINCT unit_id), COUNT(*), MIN(ts), MAX(ts) FROM ab_requests "
                "GROUP BY experiment_id")):
            out[int(e)] = ("gateway", int(units), int(rows), int(outcomes.get(e, 0)), first, last)
    return out


def list_experiments(engine: Engine) -> list[ExperimentSummary]:
    """Return every experiment of the store, oldest first, with its state and traffic.

    An experiment with gateway requests is a ``gateway`` one (its analysis reads the requests), else
    ``simulated``; the status and split are the ones a gateway applies now
    (:func:`harness.ab.control.experiment_state`).
    """
    from harness.ab.control import experiment_state
    from harness.store.ab import list_experiments as stored

    traffic = _traffic(engine)
    rows = []
    for info in stored(engine):
        state = experiment_state(engine, info.name)
        source, units, count, outcomes, first, last = traffic.get(info.id, ("no data yet", 0, 0, 0, None, None))
        rows.append(ExperimentSummary(info.name, source, state.status, state.kill_switch, info.control,
                                      dict(state.weights), units, count, outcomes, first, last, info.description))
    return rows


def experiments_table(experiments: list[ExperimentSummary]) -> pd.DataFrame:
    """The experiments as a table for the list: one row each, newest data first."""
    import pandas as pd

    def when(ts: float | None) -> Any:
        return pd.NaT if ts is None else pd.Timestamp(ts, unit="s", tz="UTC")

    rows = [{"experiment": e.name, "source": e.source,
             "status": "killed" if e.kill_switch else e.status, "control": e.control,
             "split": ", ".join(f"{v} {w:.0%}" for v, w in e.weights.items()), "units": e.units,
             "requests / events": e.rows, "outcomes": e.outcomes if e.source == "gateway" else None,
             "days": e.days, "first": when(e.first), "last": when(e.last), "description": e.description}
            for e in experiments]
    frame = pd.DataFrame(rows, columns=["experiment", "source", "status", "control", "split", "units",
                                        "requests / events", "outcomes", "days", "first", "last", "description"])
    return frame.sort_values("last", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def _status(m: dict[str, Any]) -> str:
    """The status word ``harness ab analyze`` prints for a metric row."""
    if m.get("guardrail"):
        return {"pass": "pass", "harmed": "harmed"}.get(m["guardrail"]["status"], "unsure")
    if m["error"]:
        return str(m["error"])
    if m["significant"]:
        return "better" if (m["absolute"]["estimate"] > 0) == m["higher_is_better"] else "worse"
    return "n.s."


def _nan(x: Any) -> float:
    return math.nan if x is None else float(x)


def metric_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per metric and treatment of a ``--json`` report (columns :data:`METRIC_COLUMNS`).

    Effects are treatment minus control (``absolute``) and that over the control (``relative``, a
    fraction), each with its interval bounds; ``status`` is the word the CLI prints (better, worse,
    n.s., pass, harmed, unsure, or the error); missing numbers are NaN.
    """
    import pandas as pd

    rows = []
    for m in report["metrics"]:
        a, r = m["absolute"], m["relative"]
        c, t = m["variants"][m["control"]], m["variants"][m["treatment"]]
        rows.append({"metric": m["name"], "role": m["role"], "treatment": m["treatment"], "control": m["control"],
                     "control_mean": _nan(c["mean"]), "treatment_mean": _nan(t["mean"]),
                     "absolute": _nan(a["estimate"]), "absolute_low": _nan(a["ci"][0]),
                     "absolute_high": _nan(a["ci"][1]), "relative": _nan(r["estimate"]),
                     "relative_low": _nan(r["ci"][0]), "relative_high": _nan(r["ci"][1]),
                     "adjusted_p": _nan(m["adjusted_p_value"]), "chance_to_beat": _nan(m["chance_to_beat_control"]),
                     "significant": bool(m["significant"]), "status": _status(m),
                     "margin": m["guardrail"]["margin"] if m.get("guardrail") else math.nan,
                     "higher_is_better": bool(m["higher_is_better"]), "error": m["error"]})
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))


def timeline_table(points: list[TimelinePoint]) -> pd.DataFrame:
    """The cumulative effects over time: one row per analysed cutoff, metric and treatment.

    Columns :data:`TIMELINE_COLUMNS`: ``days`` since the first row, ``time`` (UTC) of the cutoff, units
    so far, the absolute and relative effects with their (always-valid) intervals, and the decision
    ``action`` at that time. Cutoffs that could not be analysed are left out.
    """
    import pandas as pd

    rows = []
    for p in points:
        if p.result is None or p.decision is None:
            continue
        units = sum(p.result.variants.values())
        for m in p.result.metrics:
            a, r = m.effect.absolute, m.effect.relative
            rows.append({"days": p.days, "time": pd.Timestamp(p.cutoff, unit="s", tz="UTC"), "metric": m.spec.name,
                         "role": m.spec.role, "treatment": m.treatment, "units": units, "absolute": a.estimate,
                         "absolute_low": a.ci[0], "absolute_high": a.ci[1], "relative": r.estimate,
                         "relative_low": r.ci[0], "relative_high": r.ci[1], "significant": m.significant,
                         "action": p.decision.action})
    return pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))


def fallback_table(report: dict[str, Any]) -> pd.DataFrame:
    """The fallback rate per variant (share of requests the control answered in its place), from the
    ``fallback_rate`` guardrail of a gateway analysis; empty when the experiment has none."""
    import pandas as pd

    rows: dict[str, dict[str, Any]] = {}
    for m in report["metrics"]:
        if m["name"] != "fallback_rate":
            continue
        for variant, arm in m["variants"].items():
            rows[variant] = {"variant": variant, "units": arm["n"], "fallback_rate": _nan(arm["mean"]),
                             "control": variant == m["control"]}
    return pd.DataFrame(list(rows.values()), columns=["variant", "units", "fallback_rate", "control"])


def planning(result: AnalysisResult, decision: Decision) -> Planning:
    """The planning numbers of an analysis: units needed for the MDE on the primary metric (fixed and
    always-valid, from its control arm's baseline and spread), units and days so far, days still needed."""
    from harness.ab.plan import observed_inputs, plan

    cfg = result.config
    base = Planning(cfg.primary_metric(), cfg.mde, cfg.power, sum(result.variants.values()), result.units_per_day,
                    result.days, None, None, None, decision.days_still_needed)
    try:
        kind, baseline, sd, per_day = observed_inputs(result)
        if not math.isfinite(baseline) or (sd is not None and not sd > 0):
            raise HarnessError(f"the primary metric {cfg.primary_metric()} has no spread in the control yet "
                               f"(baseline {baseline:.4g})")
        _, out = plan(kind, baseline, cfg.mde, sd=sd, config=cfg, units_per_day=per_day, weights=result.weights,
                      control=result.control)
    except HarnessError as exc:
        return replace(base, error=str(exc))
    return replace(base, units_needed=int(out["total_units"]), units_needed_sequential=int(out["total_units_sequential"]),
                   days_needed=out.get("days_sequential" if cfg.sequential else "days"))


def analyze_read_only(engine: Engine, name: str) -> tuple[AnalysisResult, Decision, tuple[str, ...]]:
    """Analyse ``name`` as ``harness ab analyze --experiment`` does, writing nothing; returns the result, the
    decision and notes. With a stored plan the analysis is the group-sequential look as it stands, not
    recorded (``harness ab analyze --experiment NAME`` records it)."""
    from harness.ab.api import analyze_experiment
    from harness.store.ab_plans import get_plan

    result, decision = analyze_experiment(engine, name, record_look=False)
    if get_plan(engine, name) is None:
        return result, decision, ()
    note = (f"the group-sequential look as it stands now, not recorded: `harness ab analyze --experiment {name}` "
            "records it")
    return result, decision, (note,)


def experiment_view(engine: Engine, name: str, *, max_points: int = 60,
                    max_rows: int = TIMELINE_MAX_ROWS) -> ExperimentView:
    """Return the :class:`ExperimentView` of experiment ``name`` (reads only).

    The timeline re-runs the same analysis (same metrics, always-valid intervals) on the data logged up
    to each day, so its last point is the analysis shown in the cards; above ``max_rows`` rows it is
    left empty and a note says so.
    """
    from harness.ab.api import to_report
    from harness.ab.timeline import analyze_over_time
    from harness.store.ab import get_experiment

    result, decision, notes = analyze_read_only(engine, name)
    report = to_report(result, decision)
    config = replace(result.config, sequential=True, planned_units=None)
    info = get_experiment(engine, name)
    _, _, rows, outcomes, _, _ = _traffic(engine).get(info.id if info else -1, ("", 0, 0, 0, None, None))
    if rows + outcomes > max_rows:
        points = []
        notes = (*notes, f"the day-by-day timeline is skipped above {max_rows:,} rows ({rows + outcomes:,} here)")
    else:
        points = analyze_over_time(engine, name, config, max_points=max_points)
    return ExperimentView(name, report, metric_table(report), timeline_table(points), fallback_table(report),
                          planning(result, decision), notes)
