"""The demo's review stage: a pairwise and a rubric batch of the eval run, filled by simulated reviewers."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from harness.demo import DemoContext
from harness.demo.review import REVIEWERS, stage
from harness.workspace import Workspace
from tests.harness.runfolder import make_run

RUN_ID = "20261128-163000-support-v1-ab12"


def _context(root: Path, out: Path, run_id: str | None) -> DemoContext:
    return DemoContext(workspace=Workspace.open(root), out_dir=out, console=Console(record=True, width=160),
                       fast=True, run_id=run_id)


def test_stage_reviews_the_tuned_candidate_against_the_best_baseline(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    make_run(root, RUN_ID, n_test=30, n_general=10, write_scores=True)
    out = tmp_path / "demo"
    out.mkdir()
    ctx = _context(root, out, RUN_ID)
    started = time.perf_counter()
    stage(ctx)
    assert time.perf_counter() - started < 30
    from harness.review.queue import batch_status, list_batches

    batches = {b.kind: b for b in list_batches(ctx.workspace.engine)}
    assert set(batches) == {"pairwise", "rubric"}
    assert set(batches["pairwise"].candidates) == {"lora-r16", "base-few-shot"}  # best prompted baseline
    assert batches["rubric"].candidates == ("lora-r16",)
    for row in batch_status(ctx.workspace.engine):  # every item reviewed by all three reviewers
        assert row["overlap"] == len(REVIEWERS) and row["done"] == row["n_items"] == 10 and row["remaining"] == 0
    assert ctx.review is not None and set(ctx.review) == {"pairwise", "rubric"}
    assert json.loads((out / "review.json").read_text()) == ctx.review
    label, line = ctx.summary[-1]
    assert label == "human review" and "lora-r16" in line and "base-few-shot" in line
    text = ctx.console.export_text()
    assert "pairwise batch rb-" in text and "rubric batch rb-" in text and "30 reviews by ana, ben, chen" in text


def test_stage_without_a_run_is_skipped(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    ctx = _context(tmp_path / "ws", out, None)
    stage(ctx)
    assert ctx.summary == [("human review", "skipped (no run)")]
    assert ctx.review is None and not (out / "review.json").exists()
    assert "skipping the human review" in ctx.console.export_text()
