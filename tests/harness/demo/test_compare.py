"""The demo's compare stage: the eval stage's run against its best prompted baseline, or a skip."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from harness.demo import DemoContext
from harness.demo.compare import stage
from harness.workspace import Workspace
from tests.harness.runfolder import make_run

RUN_ID = "20261128-163000-support-v1-ab12"


def _context(root: Path, out: Path, run_id: str | None) -> DemoContext:
    return DemoContext(workspace=Workspace.open(root), out_dir=out, console=Console(record=True, width=160),
                       fast=True, run_id=run_id)


def test_stage_compares_the_run_and_writes_comparison_json(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_run(root, "20261128-100000-old-0000", n_test=20, n_general=10, seed=5)
    make_run(root, RUN_ID)
    out = tmp_path / "demo"
    out.mkdir()
    ctx = _context(root, out, RUN_ID)
    stage(ctx)
    text = ctx.console.export_text()
    assert "paired comparisons vs base-few-shot" in text and "lora-r16 beats base-few-shot" in text
    assert ctx.summary[0][0] == "comparison" and ctx.summary[0][1].startswith("lora-r16 beats base-few-shot")
    assert any(label.startswith("forgetting check lora-r16") for label, _ in ctx.summary)
    written = json.loads((out / "comparison.json").read_text())
    assert written["baseline"] == "base-few-shot"
    assert ctx.comparison is not None and ctx.comparison["baseline"] == "base-few-shot"


def test_stage_without_a_run_is_skipped(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    ctx = _context(tmp_path / "ws", out, None)
    stage(ctx)
    assert ctx.summary == [("comparison", "skipped (no run)")]
    assert ctx.comparison is None and not (out / "comparison.json").exists()
    assert "skipping the comparison" in ctx.console.export_text()
