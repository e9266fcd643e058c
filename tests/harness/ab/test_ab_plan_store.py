"""Plans and looks in the workspace (issue 17): the store API, which look an analysis is, consistent re-analysis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.ab.group_sequential import GsPlan, locate_look
from harness.errors import ConfigError, DataError
from harness.store.ab import create_experiment, delete_experiment, log_event_columns
from harness.store.ab_plans import add_look, delete_plan, get_plan, list_looks, save_plan
from harness.workspace import Workspace


@pytest.fixture
def engine(tmp_path: Path):
    ws = Workspace.open(tmp_path / "ws")
    yield ws.engine
    ws.close()


def _log_units(engine, name: str, start: int, count: int, seed: int, rate_b: float = 0.3) -> None:
    """Log one event for each of ``count`` new units (ids from ``start``), half per variant."""
    rng = np.random.default_rng(seed)
    ids = np.arange(start, start + count)
    variant = np.where(ids % 2 == 0, "base", "candidate")
    rate = np.where(variant == "base", 0.3, rate_b)
    log_event_columns(engine, name, {"unit_id": [f"u{i}" for i in ids], "variant": variant,
                                     "ts": 1.7e9 + ids * 60.0, "task_completed": (rng.random(count) < rate) * 1.0,
                                     "latency_s": rng.gamma(4, 0.3, count)})


def test_save_get_replace_and_delete_a_plan(engine) -> None:
    create_experiment(engine, "exp", {"base": 1, "candidate": 1})
    assert get_plan(engine, "exp") is None and list_looks(engine, "exp") == []
    plan = save_plan(engine, "exp", planned_units=20_000, alpha=0.05, spending="obrien-fleming", planned_days=14,
                     units_per_day=1500, primary_metric="task_completed", mde=0.05)
    assert (plan.planned_units, plan.planned_days, plan.looks, plan.spending) == (20_000, 14, "daily", "obrien-fleming")
    assert plan.created_at.tzinfo is not None and plan.to_dict()["primary_metric"] == "task_completed"
    assert get_plan(engine, "exp") == plan
    # no look yet: a new plan replaces it silently
    assert save_plan(engine, "exp", planned_units=30_000, alpha=0.1, spending="pocock", looks="5").looks == "5"
    first = add_look(engine, "exp", index=1, units=3000, fraction=0.1, z_boundary=6.1)
    assert (first.index, first.units, first.fraction, first.z_boundary) == (1, 3000, 0.1, 6.1)
    with pytest.raises(DataError, match="another analysis"):
        add_look(engine, "exp", index=1, units=3100, fraction=0.103, z_boundary=6.0)
    add_look(engine, "exp", index=2, units=6000, fraction=0.2, z_boundary=None)  # infinite boundary
    assert [(x.index, x.z_boundary) for x in list_looks(engine, "exp")] == [(1, 6.1), (2, None)]
    with pytest.raises(DataError, match="2 look\\(s\\) taken") as caught:
        save_plan(engine, "exp", planned_units=10_000, alpha=0.05, spending="pocock")
    assert "--replace-plan" in (caught.value.hint or "")
    assert get_plan(engine, "exp").planned_units == 30_000  # the refused plan changed nothing
    save_plan(engine, "exp", planned_units=10_000, alpha=0.05, spending="pocock", replace=True)
    assert list_looks(engine, "exp") == [] and get_plan(engine, "exp").planned_units == 10_000
    add_look(engine, "exp", index=1, units=100, fraction=0.01, z_boundary=9.0)
    assert delete_plan(engine, "exp") and list_looks(engine, "exp") == [] and not delete_plan(engine, "exp")
    save_plan(engine, "exp", planned_units=10_000, alpha=0.05, spending="pocock")
    add_look(engine, "exp", index=1, units=100, fraction=0.01, z_boundary=9.0)
    assert delete_experiment(engine, "exp")
    create_experiment(engine, "exp", {"base": 1, "candidate": 1})  # same name, new experiment: no plan
    assert get_plan(engine, "exp") is None and list_looks(engine, "exp") == []


def test_plan_errors_name_the_experiment(engine) -> None:
    with pytest.raises(DataError, match="unknown experiment 'nope'"):
        get_plan(engine, "nope")
    create_experiment(engine, "exp", {"a": 1, "b": 1})
    with pytest.raises(DataError, match="planned units must be > 0"):
        save_plan(engine, "exp", planned_units=0, alpha=0.05, spending="pocock")
    with pytest.raises(ConfigError, match="unknown spending function 'linear'"):
        GsPlan(1000, spending="linear")


def test_locate_look_reuses_adds_and_refuses() -> None:
    plan = GsPlan(10_000, source="test plan")
    first = locate_look(plan, 1000, [])
    assert (first.index, first.fractions, first.new) == (1, (0.1,), True)
    taken = [(1000, 0.1), (2500, 0.25)]
    again = locate_look(plan, 1000, taken)  # the data of look 1 again: look 1, no new look
    assert (again.index, again.fractions, again.new) == (1, (0.1,), False) and "no look added" in again.notes[0]
    third = locate_look(plan, 4000, taken)
    assert (third.index, third.fractions, third.new) == (3, (0.1, 0.25, 0.4), True)
    with pytest.raises(DataError, match="fewer than the 2500 of look 2"):
        locate_look(plan, 2000, taken)
    done = [*taken, (10_400, 1.04)]
    after = locate_look(plan, 12_000, done)  # past the plan's end: read at the final look, nothing added
    assert (after.index, after.new, after.fraction) == (3, False, 1.2) and "final look" in after.notes[0]
    single = locate_look(plan, 2500, None, unstored="an events file stores none")
    assert single.fractions == (0.25,) and not single.new and "single-look" in single.notes[0]
    with pytest.raises(DataError, match="no units yet"):
        locate_look(plan, 0, [])


def test_reanalysis_uses_the_stored_looks(engine) -> None:
    """Look k's boundary comes from the stored fractions of looks 1..k; re-running a look adds none."""
    from harness.ab.api import analyze_experiment
    from harness.stats.group_sequential import boundaries

    create_experiment(engine, "exp", {"base": 1, "candidate": 1})
    save_plan(engine, "exp", planned_units=4000, alpha=0.05, spending="obrien-fleming", primary_metric="task_completed")
    _log_units(engine, "exp", 0, 1000, seed=1)
    r1, _ = analyze_experiment(engine, "exp")
    gs1 = r1.group_sequential
    assert r1.method == "group_sequential" and gs1.look.index == 1 and gs1.look.new
    assert gs1.z == pytest.approx(boundaries([0.25]).z[0])
    assert r1.config.tuning_units == 4000  # the other metrics' sequences are tuned for the plan
    _log_units(engine, "exp", 1000, 1000, seed=2)
    r2, _ = analyze_experiment(engine, "exp")
    assert r2.group_sequential.look.index == 2
    assert r2.group_sequential.z == pytest.approx(boundaries([0.25, 0.5]).z[1])
    r2b, _ = analyze_experiment(engine, "exp")  # the same data again: the same look, the same numbers
    assert r2b.group_sequential.look.index == 2 and not r2b.group_sequential.look.new
    assert r2b.metrics[0].effect.absolute == r2.metrics[0].effect.absolute
    looks = list_looks(engine, "exp")
    assert [(x.index, x.units, x.fraction) for x in looks] == [(1, 1000, 0.25), (2, 2000, 0.5)]
    assert looks[1].z_boundary == pytest.approx(r2.group_sequential.z)
    # an explicit method sets the plan aside and records nothing
    r_fixed, _ = analyze_experiment(engine, "exp", r2.config.with_overrides(sequential=False), use_plan=False)
    assert r_fixed.method == "fixed" and "not used" in r_fixed.method_reason and len(list_looks(engine, "exp")) == 2


def test_workspace_at_0002_gets_the_plan_tables(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from harness.store.migrations import HEAD, alembic_config, current_revision

    db = tmp_path / "ws" / "harness.db"
    db.parent.mkdir()
    old = create_engine(f"sqlite:///{db}")
    with old.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
        assert "ab_plans" not in inspect(conn).get_table_names()
    old.dispose()
    ws = Workspace.open(tmp_path / "ws")
    with ws.engine.connect() as conn:
        assert current_revision(conn) == HEAD
        assert {"ab_plans", "ab_looks"} <= set(inspect(conn).get_table_names())
    create_experiment(ws.engine, "exp", {"a": 1, "b": 1})
    assert save_plan(ws.engine, "exp", planned_units=100, alpha=0.05, spending="pocock").planned_units == 100
    ws.close()
