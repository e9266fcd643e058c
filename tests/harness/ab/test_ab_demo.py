"""The demo's A/B stage: simulate, store, analyse and report the decision."""

from __future__ import annotations

import io

from rich.console import Console

from harness.ab.demo import EXPERIMENT, stage
from harness.demo import DemoContext
from harness.workspace import Workspace


def test_demo_stage_ships_the_winning_candidate(tmp_path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    out = io.StringIO()
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=Console(file=out, width=140), fast=True)
    stage(ctx)
    text = out.getvalue()
    assert "decision: ship" in text and "task_completed" in text
    label, value = ctx.summary[-1]
    assert label == "A/B decision" and value.startswith("ship")
    assert ctx.artifacts["ab_report"]["srm"]["flag"] is False
    stage(ctx)  # rerunning replaces the experiment instead of failing
    from harness.store.ab import list_experiments

    assert [e.name for e in list_experiments(ws.engine)] == [EXPERIMENT]
