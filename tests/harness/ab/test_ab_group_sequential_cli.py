"""``harness ab plan --experiment`` and ``harness ab analyze`` under a plan (issue 17), through the real CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.store.ab import log_event_columns
from harness.store.ab_plans import list_looks
from harness.workspace import Workspace


def _json(result) -> dict:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def _error(result, *needles: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in result.stderr, result.stderr


def _add_units(workspace: Path, name: str, start: int, count: int, lift: float, seed: int) -> None:
    """Log one event for each of ``count`` new units, alternating variants; the candidate completes more tasks."""
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + count)
    variant = np.where(ids % 2 == 0, "base", "candidate")
    rate = np.where(variant == "base", 0.3, 0.3 * (1 + lift))
    ws = Workspace.open(workspace)
    log_event_columns(ws.engine, name, {"unit_id": [f"x{i}" for i in ids], "variant": variant,
                                        "ts": 1.8e9 + ids * 30.0, "task_completed": (rng.random(count) < rate) * 1.0})
    ws.close()


def _primary(report: dict) -> dict:
    return next(m for m in report["metrics"] if m["name"] == report["primary_metric"])


def _agrees(metric: dict, alpha: float) -> None:
    """Significant exactly when the interval excludes zero, and exactly when the adjusted p is below alpha."""
    lo, hi = metric["absolute"]["ci"]
    assert metric["significant"] == (lo > 0 or hi < 0) == (metric["adjusted_p_value"] < alpha), metric


def test_plan_records_then_analyze_takes_looks(cli, workspace_dir: Path) -> None:
    assert cli("ab", "simulate", "-e", "exp", "--days", "7", "--units-per-day", "60").exit_code == 0
    plan = _json(cli("ab", "plan", "-e", "exp", "--mde", "0.1", "--baseline", "0.3", "--units-per-day", "400",
                     "--json"))
    assert {"total_units", "units_per_variant", "days", "total_units_sequential"} <= set(plan)  # kept
    gs = plan["group_sequential"]
    assert gs["stored"] and gs["planned_units"] == plan["total_units"] and gs["planned_days"] == plan["days"]
    assert (gs["looks"], gs["spending"], gs["primary_metric"], gs["mde"]) == ("daily", "obrien-fleming",
                                                                               "task_completed", 0.1)
    first = _json(cli("ab", "analyze", "-e", "exp", "--json"))
    look = first["group_sequential"]
    assert first["method"] == "group_sequential" and "plan stored on experiment 'exp'" in first["method_reason"]
    assert look["look"] == 1 and look["new_look"] and look["looks_stored"]
    assert look["information_fraction"] == pytest.approx(sum(first["units"].values()) / plan["total_units"])
    assert look["boundary_z"] > 3 and look["applies_to"] == "task_completed"
    assert _primary(first)["method"] == "group_sequential"
    assert {m["method"] for m in first["metrics"] if m["name"] != "task_completed"} == {"sequential"}
    _agrees(_primary(first), 0.05)
    decision = first["decision"]
    assert decision["action"] == "keep_running" and decision["days_still_needed"] > 0
    assert any("to reach the planned units" in r for r in decision["reasons"])
    again = _json(cli("ab", "analyze", "-e", "exp", "--json"))  # no new data: the same look
    assert again["group_sequential"]["look"] == 1 and not again["group_sequential"]["new_look"]
    assert _primary(again)["absolute"] == _primary(first)["absolute"]
    _add_units(workspace_dir, "exp", 0, 1500, lift=0.2, seed=1)
    second = _json(cli("ab", "analyze", "-e", "exp", "--json"))
    fractions = [x["information_fraction"] for x in second["group_sequential"]["looks"]]
    assert second["group_sequential"]["look"] == 2 and fractions[0] == look["information_fraction"]
    assert second["group_sequential"]["boundary_z"] < look["boundary_z"]
    _agrees(_primary(second), 0.05)
    human = cli("ab", "analyze", "-e", "exp")
    assert human.exit_code == 0, human.stderr
    for needle in ("method: group-sequential", "look 2 (already taken", "information fraction", "boundary |z| >"):
        assert needle in human.stdout, human.stdout
    # an explicit method sets the plan aside: no look is added
    fixed = _json(cli("ab", "analyze", "-e", "exp", "--fixed-horizon", "--json"))
    assert fixed["method"] == "fixed" and fixed["group_sequential"] is None and "not used" in fixed["method_reason"]
    ws = Workspace.open(workspace_dir)
    assert [x.index for x in list_looks(ws.engine, "exp")] == [1, 2]
    ws.close()
    # re-planning after looks needs --replace-plan, which restarts at look 1
    _error(cli("ab", "plan", "-e", "exp", "--mde", "0.05", "--baseline", "0.3"), "2 look(s) taken", "--replace-plan")
    _json(cli("ab", "plan", "-e", "exp", "--mde", "0.05", "--baseline", "0.3", "--replace-plan", "--json"))
    assert _json(cli("ab", "analyze", "-e", "exp", "--json"))["group_sequential"]["look"] == 1


def test_planned_units_flag_on_files(cli, events_csv: Path, summary_file: Path) -> None:
    report = _json(cli("ab", "analyze", "--events", events_csv, "--control", "base", "--planned-units", "4000",
                       "--json"))
    gs = report["group_sequential"]
    n = sum(report["units"].values())
    assert report["method"] == "group_sequential" and "--planned-units 4000" in report["method_reason"]
    assert not gs["looks_stored"] and not gs["new_look"] and gs["information_fraction"] == pytest.approx(n / 4000)
    assert any("single-look analysis" in note and "an events file" in note for note in report["notes"])
    _agrees(_primary(report), 0.05)
    # at the planned end with one look the boundary is the fixed-horizon 1.96; Pocock spends more early
    full = _json(cli("ab", "analyze", "--summary", summary_file, "--primary", "conv", "--planned-units",
                     "6798", "--json"))
    assert full["group_sequential"]["boundary_z"] == pytest.approx(1.959964, abs=1e-4)
    fixed = _json(cli("ab", "analyze", "--summary", summary_file, "--primary", "conv", "--fixed-horizon", "--json"))
    assert _primary(full)["absolute"]["ci"] == pytest.approx(_primary(fixed)["absolute"]["ci"], rel=1e-3)
    half_obf = _json(cli("ab", "analyze", "--summary", summary_file, "--primary", "conv", "--planned-units",
                         "13596", "--json"))["group_sequential"]
    half_pocock = _json(cli("ab", "analyze", "--summary", summary_file, "--primary", "conv", "--planned-units",
                            "13596", "--spending", "pocock", "--json"))["group_sequential"]
    assert half_pocock["spending"] == "pocock" and half_pocock["boundary_z"] < half_obf["boundary_z"]
    assert math.isclose(half_obf["information_fraction"], 0.5)


def test_multiple_treatments_split_the_boundary(cli, tmp_path: Path) -> None:
    path = tmp_path / "three.json"
    path.write_text(json.dumps({"variants": {
        "A": {"n": 5000, "metrics": {"conv": {"successes": 1500}}},
        "B": {"n": 5000, "metrics": {"conv": {"successes": 1640}}},
        "C": {"n": 5000, "metrics": {"conv": {"successes": 1530}}}}}))
    report = _json(cli("ab", "analyze", "--summary", path, "--control", "A", "--planned-units", "15000", "--json"))
    gs = report["group_sequential"]
    assert gs["comparisons"] == 2 and gs["comparison_alpha"] == pytest.approx(0.025)
    assert gs["boundary_z"] == pytest.approx(2.2414, abs=1e-3)  # z_{1 - 0.025/2}: one final look at alpha/2
    for m in report["metrics"]:
        _agrees(m, 0.05)
    assert [m["significant"] for m in report["metrics"]] == [True, False]
    assert any("split between the 2 treatments" in note for note in report["notes"])


def test_flag_errors(cli, summary_file: Path) -> None:
    _error(cli("ab", "analyze", "--summary", summary_file, "--planned-units", "5000", "--fixed-horizon"),
           "cannot be combined with --fixed-horizon")
    _error(cli("ab", "analyze", "--summary", summary_file, "--planned-units", "5000", "--spending", "linear"),
           "unknown spending function 'linear'")
    _error(cli("ab", "analyze", "--summary", summary_file, "--planned-units", "-3"), "planned_units must be > 0")
    _error(cli("ab", "plan", "--mde", "0.05", "--baseline", "0.3", "--looks", "often"), "--looks 'often'")
    assert cli("ab", "simulate", "-e", "exp", "--days", "7", "--units-per-day", "30").exit_code == 0
    assert cli("ab", "plan", "-e", "exp", "--mde", "0.1", "--baseline", "0.3", "--looks", "5").exit_code == 0
    _error(cli("ab", "analyze", "-e", "exp", "--planned-units", "123"), "disagrees with the plan stored")
    _error(cli("ab", "analyze", "-e", "exp", "--spending", "pocock"), "disagrees with the plan stored")


def test_plan_without_experiment_says_how_to_analyse(cli) -> None:
    out = _json(cli("ab", "plan", "--mde", "0.05", "--baseline", "0.3", "--units-per-day", "2000", "--json"))
    gs = out["group_sequential"]
    assert not gs["stored"] and gs["planned_units"] == out["total_units"]
    assert gs["analyse_with"].endswith(f"--planned-units {out['total_units']}")
    human = cli("ab", "plan", "--mde", "0.05", "--baseline", "0.3")
    assert "--planned-units" in human.stdout
