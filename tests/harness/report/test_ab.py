"""What the A/B page shows (harness.report.ab) on experiments written by ``harness ab simulate``: the list, the
metric rows, the cumulative series (checked against an independent analysis of the events up to each day),
the planning numbers, and read-only behaviour with a stored plan."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.ab.api import analyze_events_file, analyze_experiment, to_report
from harness.ab.config import AnalysisConfig
from harness.cli import run
from harness.report import ab as ab_view
from harness.workspace import Workspace

EFFECT_COLUMNS = ["absolute", "absolute_low", "absolute_high", "relative", "relative_low", "relative_high"]


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with two simulated experiments: a winner over 9 days and one with a broken split."""
    root = tmp_path_factory.mktemp("ab-report") / "ws"
    assert run(["--workspace", str(root), "ab", "simulate", "--experiment", "win", "--days", "9",
                "--units-per-day", "250", "--effect", "task_completed=0.12", "--seed", "4"]) == 0
    assert run(["--workspace", str(root), "ab", "simulate", "--experiment", "srm", "--days", "7",
                "--units-per-day", "200", "--loss", "candidate=0.25", "--seed", "1"]) == 0
    return root


@pytest.fixture(scope="module")
def engine(sim_root: Path):
    ws = Workspace.open_read_only(sim_root)
    yield ws.engine
    ws.close()


@pytest.fixture(scope="module")
def view(engine) -> ab_view.ExperimentView:
    return ab_view.experiment_view(engine, "win")


def _events(engine, name: str) -> pd.DataFrame:
    from sqlalchemy import text

    with engine.connect() as conn:
        return pd.read_sql(text("SELECT e.* FROM ab_events AS e JOIN ab_experiments AS x ON x.id = e.experiment_id "
                                "WHERE x.name = :n"), conn, params={"n": name})


def test_the_list_has_both_experiments_with_their_traffic(engine) -> None:
    rows = {e.name: e for e in ab_view.list_experiments(engine)}
    assert list(rows) == ["win", "srm"]
    win = rows["win"]
    events = _events(engine, "win")
    assert (win.source, win.status, win.kill_switch, win.control) == ("simulated", "running", False, "base")
    assert win.rows == len(events) and win.units == events["unit_id"].nunique()
    assert win.first == events["ts"].min() and win.last == events["ts"].max()
    table = ab_view.experiments_table(list(rows.values()))
    assert set(table["experiment"]) == {"win", "srm"}
    assert table.loc[table["experiment"] == "win", "split"].item() == "base 50%, candidate 50%"


def test_metric_rows_carry_the_reported_effects_and_the_cli_status(engine, view) -> None:
    result, decision = analyze_experiment(engine, "win")
    report = to_report(result, decision)
    assert view.report["metrics"] == report["metrics"] and view.decision == report["decision"]
    primary = view.metrics[view.metrics["metric"] == "task_completed"].iloc[0]
    entry = next(m for m in report["metrics"] if m["name"] == "task_completed")
    assert primary["role"] == "primary" and primary["treatment"] == "candidate"
    assert primary["absolute"] == entry["absolute"]["estimate"]
    assert (primary["relative_low"], primary["relative_high"]) == tuple(entry["relative"]["ci"])
    assert primary["status"] == ("better" if entry["significant"] and entry["absolute"]["estimate"] > 0 else
                                 "worse" if entry["significant"] else "n.s.")
    guards = view.metrics[view.metrics["role"] == "guardrail"]
    assert set(guards["status"]) <= {"pass", "harmed", "unsure"} and (guards["margin"] > 0).all()
    assert view.fallback.empty  # simulated events: no gateway, no fallbacks
    assert not view.srm["flag"]


def test_each_day_of_the_series_is_the_analysis_of_the_events_up_to_that_day(engine, view, tmp_path: Path) -> None:
    series = view.timeline
    assert sorted(series["days"].unique())[:8] == [float(d) for d in range(1, 9)]
    events = _events(engine, "win")
    first = events["ts"].min()
    metrics = analyze_experiment(engine, "win")[0].config.metrics
    config = AnalysisConfig(metrics=metrics, control="base", weights={"base": 0.5, "candidate": 0.5})
    for day in (3.0, 6.0):  # independently: the events file path (pandas) on the events logged by then
        path = tmp_path / f"day{day:g}.csv"
        cut = events[events["ts"] <= first + day * 86400].rename(columns={"ts": "timestamp"})
        cut.drop(columns=["experiment_id", "seq"]).to_csv(path, index=False)
        expected, _ = analyze_events_file(path, config)
        rows = series[series["days"] == day].set_index("metric")
        assert rows["units"].iloc[0] == sum(expected.variants.values())
        for m in expected.metrics:
            got = rows.loc[m.spec.name, EFFECT_COLUMNS].to_numpy(dtype=float)
            want = [m.effect.absolute.estimate, *m.effect.absolute.ci, m.effect.relative.estimate, *m.effect.relative.ci]
            assert got == pytest.approx(want, rel=1e-7, abs=1e-12, nan_ok=True), (day, m.spec.name)


def test_the_last_point_is_the_full_analysis(view) -> None:
    series = view.timeline
    last = series[series["days"] == series["days"].max()].set_index("metric")
    assert last["days"].iloc[0] == pytest.approx(view.report["days"])
    assert last["units"].iloc[0] == sum(view.report["units"].values())
    assert set(last["action"]) == {view.decision["action"]}
    cards = view.metrics.set_index("metric")
    for name in cards.index:
        assert last.loc[name, EFFECT_COLUMNS].to_numpy(dtype=float) == pytest.approx(
            cards.loc[name, EFFECT_COLUMNS].to_numpy(dtype=float), rel=1e-9, abs=1e-12, nan_ok=True), name
    # always-valid intervals narrow as units accumulate
    primary = series[series["metric"] == "task_completed"]
    widths = (primary["absolute_high"] - primary["absolute_low"]).to_numpy()
    assert widths[-1] < widths[0]


def test_planning_numbers_follow_the_primary_metric(engine, view) -> None:
    from harness.ab.plan import observed_inputs, plan

    result, decision = analyze_experiment(engine, "win")
    kind, baseline, sd, per_day = observed_inputs(result)
    _, out = plan(kind, baseline, result.config.mde, sd=sd, config=result.config, units_per_day=per_day,
                  weights=result.weights, control=result.control)
    p = view.planning
    assert p.error is None and p.primary_metric == "task_completed"
    assert (p.units_needed, p.units_needed_sequential) == (out["total_units"], out["total_units_sequential"])
    assert p.units_needed_sequential > p.units_needed
    assert p.days_still_needed == decision.days_still_needed
    assert p.units_so_far == sum(result.variants.values()) and p.days_elapsed == pytest.approx(result.days)
    assert p.days_needed == max(math.ceil(out["total_units_sequential"] / per_day), result.config.min_days)


def test_a_broken_split_is_flagged_and_never_shipped(engine) -> None:
    view = ab_view.experiment_view(engine, "srm")
    assert view.srm["flag"] and view.srm["p_value"] < 0.001
    assert view.srm["observed"]["candidate"] < view.srm["expected"]["candidate"]
    assert view.decision["action"] != "ship"
    assert any("sample ratio mismatch" in r for r in view.decision["reasons"])


def test_a_stored_plan_is_not_turned_into_a_look_by_reading(sim_root: Path, tmp_path: Path) -> None:
    from harness.store.ab_plans import list_looks, save_plan
    from tests.conftest import copy_workspace

    root = copy_workspace(sim_root, tmp_path / "ws")
    writable = Workspace.open(root)
    save_plan(writable.engine, "srm", planned_units=5000, alpha=0.05, spending="obrien-fleming",
              primary_metric="task_completed", mde=0.05)
    writable.close()
    ws = Workspace.open_read_only(root)
    view = ab_view.experiment_view(ws.engine, "srm")
    assert view.report["method"] == "group_sequential"  # the plan's look, as the CLI would take it
    assert view.notes and "harness ab analyze --experiment srm" in view.notes[0]
    assert list_looks(ws.engine, "srm") == []  # but not recorded
    ws.close()


def test_an_experiment_without_traffic_and_the_timeline_row_limit(sim_root: Path, tmp_path: Path) -> None:
    from harness.store.ab import create_experiment
    from tests.conftest import copy_workspace

    root = copy_workspace(sim_root, tmp_path / "ws")
    writable = Workspace.open(root)
    create_experiment(writable.engine, "fresh", {"base": 0.5, "candidate": 0.5})
    writable.close()
    ws = Workspace.open_read_only(root)
    fresh = next(e for e in ab_view.list_experiments(ws.engine) if e.name == "fresh")
    assert (fresh.source, fresh.units, fresh.rows, fresh.first, fresh.days) == ("no data yet", 0, 0, None, None)
    capped = ab_view.experiment_view(ws.engine, "win", max_rows=1000)
    assert capped.timeline.empty and "timeline is skipped above 1,000 rows" in capped.notes[-1]
    assert not capped.metrics.empty
    ws.close()
