"""The demo's A/B stage: simulate, store, analyse and report the decision."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from harness.demo import DemoContext
from harness.demo.ab import EXPERIMENT, stage
from harness.workspace import Workspace


def test_demo_stage_ships_the_winning_candidate(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=140), fast=True,
                      models={"lora-extract": tmp_path / "lora"})
    stage(ctx)
    text = out.getvalue()
    assert "base vs lora-extract" in text  # the trained candidate is the treatment arm
    assert "decision: ship" in text and "task_completed" in text
    label, value = ctx.summary[-1]
    assert label == "A/B decision" and value.startswith("ship")
    assert ctx.ab_report is not None and ctx.ab_report["srm"]["flag"] is False
    stage(ctx)  # rerunning replaces the experiment instead of failing
    from harness.store.ab import list_experiments

    assert [e.name for e in list_experiments(ws.engine)] == [EXPERIMENT]


def test_without_a_trained_model_the_treatment_is_called_candidate(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=140), fast=True)
    stage(ctx)
    assert "base vs candidate" in out.getvalue()
