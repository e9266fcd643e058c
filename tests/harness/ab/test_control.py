"""Experiment control: start/stop, weights, kill switch, stored in the A/B tables, and its CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.ab import control
from harness.errors import DataError, HarnessError
from harness.store.ab import create_experiment, get_experiment


@pytest.fixture
def engine(workspace_dir: Path):
    """The workspace engine with experiment ``exp`` (base 0.1, candidate 0.1, a stored analysis config)."""
    from harness.workspace import Workspace

    eng = Workspace.open(workspace_dir).engine
    create_experiment(eng, "exp", {"base": 0.1, "candidate": 0.1}, control="base",
                      config={"metrics": ["task_completed:proportion"]})
    return eng


def test_default_state(engine) -> None:
    state = control.experiment_state(engine, "exp")
    assert (state.status, state.kill_switch, state.salt, state.control) == ("running", False, "exp", "base")
    assert state.weights == {"base": 0.1, "candidate": 0.1} and state.active
    assert state.updated_at > 1.7e9  # the creation time (epoch seconds)


def test_stop_start_and_kill_route_everything_to_control(engine) -> None:
    units = [f"u{i}" for i in range(2000)]
    running = control.experiment_state(engine, "exp")
    assert {running.variant_for(u) for u in units} == {"base", "candidate", None}
    assert {running.serving(u) for u in units} == {"base", "candidate"}

    stopped = control.stop(engine, "exp")
    assert stopped.status == "stopped" and not stopped.active
    assert {stopped.variant_for(u) for u in units} == {None}
    assert {stopped.serving(u) for u in units} == {"base"}
    assert stopped.updated_at >= running.updated_at

    assert control.start(engine, "exp").active
    killed = control.kill(engine, "exp")
    assert killed.kill_switch and killed.status == "running" and not killed.active
    assert {killed.serving(u) for u in units} == {"base"}
    restored = control.kill(engine, "exp", on=False)
    assert restored.active and [restored.variant_for(u) for u in units] == [running.variant_for(u) for u in units]

    stored = get_experiment(engine, "exp").config  # other keys of the config are kept
    assert stored["metrics"] == ["task_completed:proportion"] and stored["kill_switch"] is False


def test_ramp_up_is_stored_and_keeps_assignments(engine) -> None:
    units = [f"u{i}" for i in range(5000)]
    before = control.experiment_state(engine, "exp")
    after = control.set_weights(engine, "exp", {"candidate": 0.5})
    assert after.weights == {"base": 0.1, "candidate": 0.5}
    assert get_experiment(engine, "exp").weights == {"base": 0.1, "candidate": 0.5}
    assert all(before.variant_for(u) in (None, after.variant_for(u)) for u in units)
    assert sum(after.variant_for(u) == "candidate" for u in units) > 2 * sum(
        before.variant_for(u) == "candidate" for u in units)


def test_a_weight_change_that_moves_units_needs_force(engine) -> None:
    control.set_weights(engine, "exp", {"base": 0.9, "candidate": 0.1})
    with pytest.raises(HarnessError, match="would move 40.0% of all units") as err:
        control.set_weights(engine, "exp", {"base": 0.5, "candidate": 0.5})
    assert "--force" in (err.value.hint or "")
    assert control.experiment_state(engine, "exp").weights == {"base": 0.9, "candidate": 0.1}  # unchanged
    forced = control.set_weights(engine, "exp", {"base": 0.5, "candidate": 0.5}, force=True)
    assert forced.weights == {"base": 0.5, "candidate": 0.5}


@pytest.mark.parametrize(("weights", "needle"), [
    ({"treatment": 0.2}, "has no variant 'treatment'"),
    ({"base": 0.7, "candidate": 0.5}, "experiment 'exp': weights .* sum to 1.2"),
    ({"base": -0.1}, "must be >= 0"),
    ({"base": 0.0, "candidate": 0.0}, "every weight would be 0"),
])
def test_invalid_weights_are_refused(engine, weights: dict[str, float], needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        control.set_weights(engine, "exp", weights)
    assert control.experiment_state(engine, "exp").weights == {"base": 0.1, "candidate": 0.1}


def test_unknown_experiment(engine) -> None:
    for call in (control.experiment_state, control.start, control.stop, control.kill):
        with pytest.raises(DataError, match="unknown experiment 'nope'"):
            call(engine, "nope")


def test_stored_salt_and_relative_weights(engine) -> None:
    create_experiment(engine, "legacy", {"a": 1.0, "b": 3.0}, config={"salt": "s-1"})
    state = control.experiment_state(engine, "legacy")
    assert state.salt == "s-1" and state.weights == {"a": 0.25, "b": 0.75}  # relative weights: all enrolled
    assert all(state.variant_for(f"u{i}") is not None for i in range(500))


def test_cli(cli, engine) -> None:
    r = cli("ab", "stop", "exp", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "stopped"
    r = cli("ab", "start", "exp")
    assert r.exit_code == 0 and "running" in r.stdout and "splitting traffic" in r.stdout
    r = cli("ab", "weights", "exp", "base=0.5,candidate=0.5", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["weights"] == {"base": 0.5, "candidate": 0.5}
    r = cli("ab", "kill", "exp", "--json")
    out = json.loads(r.stdout)
    assert out["kill_switch"] is True and out["active"] is False
    r = cli("ab", "kill", "exp", "--off")
    assert r.exit_code == 0 and "kill switch off" in r.stdout
    r = cli("ab", "status", "exp", "--json")
    assert json.loads(r.stdout)["weights"] == {"base": 0.5, "candidate": 0.5}
    assert control.experiment_state(engine, "exp").active


@pytest.mark.parametrize(("args", "needle"), [
    (("ab", "weights", "exp", "base0.5"), "'base0.5' is not NAME=SHARE"),
    (("ab", "weights", "exp", "base=0.95"), "sum to 1.05 > 1"),
    (("ab", "start", "nope"), "unknown experiment 'nope'"),
])
def test_cli_errors(cli, engine, args: tuple[str, ...], needle: str) -> None:
    r = cli(*args)
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and needle in r.stderr, r.stderr
