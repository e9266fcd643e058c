"""The A/B page (``pages/ab.py``) through ``streamlit.testing``: the demo's gateway experiment (list, decision,
cards, cumulative-effect chart, fallback rate), the SRM banner on a simulated broken split, and the empty
state on a workspace without experiments (its commands parse with the real CLI)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_pages.support import open_page

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TITLES = {"ship": "Ship", "rollback": "Roll back", "keep_running": "Keep running"}


def _page(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> AppTest:
    return open_page(monkeypatch, workspace, "app_pages/ab.py", timeout=120)


def _boxes(at: AppTest) -> list[str]:
    return [box.value for box in [*at.success, *at.warning, *at.error, *at.info]]


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def _marks(spec: dict) -> set[str]:
    return {layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"] for layer in spec["layer"]}


def test_the_demo_gateway_experiment(monkeypatch: pytest.MonkeyPatch, demo_workspace) -> None:
    from harness.ab.api import analyze_experiment
    from harness.workspace import Workspace

    assert demo_workspace.result.exit_code == 0, demo_workspace.result.stderr[-2000:]
    ws = Workspace.open_read_only(demo_workspace.path)
    result, decision = analyze_experiment(ws.engine, "demo-gateway")
    ws.close()

    at = _page(monkeypatch, demo_workspace.path)
    listing = at.dataframe[0].value
    assert list(listing["experiment"]) == ["demo-gateway"] and listing["source"].item() == "gateway"
    assert at.selectbox(key="ab_experiment").value == "demo-gateway"
    assert any(text.startswith(f"**Decision: {TITLES[decision.action]}**") for text in _boxes(at)), _boxes(at)
    assert all(reason in "\n".join(_boxes(at)) for reason in decision.reasons)
    labels = [m.label for m in at.metric]
    assert f"{result.config.primary_metric()} (lora-extract) · primary" in labels
    assert "fallback_rate (lora-extract) · guardrail" in labels
    assert {"base (control)", "lora-extract"} <= set(labels)  # the fallback rate per variant
    assert "Days still needed" in labels
    assert any(c.value.startswith("Sample ratio OK") for c in at.caption)
    effect = [s for s in _charts(at) if {"area", "line"} <= _marks(s)]
    assert effect, "no cumulative-effect chart"
    assert effect[0]["layer"][0]["encoding"]["x"]["field"] == "days"
    # switching the chart to another metric and scale re-renders without an error
    metric = at.selectbox(key="ab_timeline_metric")
    metric.set_value("completion_tokens").run()
    at.radio(key="ab_timeline_scale").set_value("absolute").run()
    assert not at.exception, at.exception
    assert [s for s in _charts(at) if {"area", "line"} <= _marks(s)]


def test_a_broken_split_shows_the_srm_banner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.cli import run

    root = tmp_path / "ws"
    assert run(["--workspace", str(root), "ab", "simulate", "--experiment", "broken", "--days", "7",
                "--units-per-day", "150", "--loss", "candidate=0.3"]) == 0
    at = _page(monkeypatch, root)
    assert any(e.value.startswith("**Sample ratio mismatch**") for e in at.error), [e.value for e in at.error]
    assert not any(text.startswith("**Decision: Ship**") for text in _boxes(at))
    assert any(c.value.startswith("No gateway traffic") for c in at.caption)
    effect = [s for s in _charts(at) if {"area", "line"} <= _marks(s)]
    assert effect and at.selectbox(key="ab_timeline_metric").value == "task_completed"


def test_an_experiment_without_traffic_says_how_to_send_some(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.store.ab import create_experiment
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    create_experiment(ws.engine, "fresh", {"base": 0.5, "candidate": 0.5})
    ws.close()
    at = _page(monkeypatch, tmp_path / "ws")
    assert at.dataframe[0].value["experiment"].tolist() == ["fresh"]
    assert any("`fresh` has no traffic yet" in i.value and "harness ab serve" in i.value for i in at.info)
    assert not at.metric and not _charts(at)


def _parses(line: str) -> None:
    """Resolve ``harness ...`` through the real CLI's commands and parse its options (runs nothing)."""
    import typer.main

    from harness.cli import app

    command = typer.main.get_command(app)
    words = shlex.split(line)
    assert words[0] == "harness"
    words = words[1:]
    while hasattr(command, "list_commands"):  # a group (typer vendors click: no isinstance on click.Group)
        name = words.pop(0)
        assert name in command.list_commands(command.context_class(command)), line
        command = command.get_command(command.context_class(command), name)
    command.make_context(command.name, words)


@pytest.mark.parametrize("store", [True, False], ids=["store-without-experiments", "no-store"])
def test_an_empty_workspace_shows_the_commands_that_make_an_experiment(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path, store: bool) -> None:
    from harness.workspace import Workspace

    if store:
        ws = Workspace.open(tmp_path / "ws")
        assert ws.engine is not None  # creates the store
        ws.close()
    at = _page(monkeypatch, tmp_path / "ws")
    message = "No A/B experiments" if store else "No harness data"
    assert any(message in i.value and str(tmp_path / "ws") in i.value for i in at.info), [i.value for i in at.info]
    lines = [line for code in at.code for line in code.value.splitlines() if line.startswith("harness ")]
    assert any(line.startswith("harness ab serve ") for line in lines)
    assert any(line.startswith("harness ab simulate ") for line in lines)
    for line in lines:
        _parses(line)
    assert not at.dataframe and not at.metric
