"""The eval demo stage in fast mode: tiny model, baselines plus a LoRA candidate, run recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from harness.demo import DemoContext
from harness.workspace import Workspace
from tests.harness.backends._support import write_eval_set


@pytest.mark.slow
def test_demo_stage_fast(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    from harness.runs.demo import stage
    from harness.store.runs import get_run

    files = write_eval_set(tmp_path / "extract", n_train=10, n_test=12)
    ws = Workspace.open(tmp_path / "ws")
    console = Console(record=True, width=200)
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=console, fast=True, artifacts={
        "splits": {"extract": {"train": files / "train.jsonl", "test": files / "test.jsonl"}},
        "base_model": str(tiny_model_dir), "models": {"lora-extract": str(tiny_lora_dir)}})
    stage(ctx)
    run = get_run(ws, ctx.artifacts["run_id"])
    assert run is not None and run.status == "completed"
    summary = run.summary_json["candidates"]
    assert set(summary) == {"base-zero-shot", "base-few-shot", "lora-extract"}
    assert summary["lora-extract"]["test"]["json_valid"]["n"] == 10
    assert run.suite_json["resolved"]["candidates"]["lora-extract"]["adapter"] == str(tiny_lora_dir)
    text = console.export_text()
    assert "json_schema" in text and "base-few-shot" in text
    assert ctx.summary and ctx.summary[0][0] == "eval run" and "json_valid/json_schema/exact_match" in ctx.summary[0][1]
