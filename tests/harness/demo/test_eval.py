"""The demo's eval stage: the suite it builds, and (slow) a fast run on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from harness.demo import DemoContext
from harness.demo.eval import METRICS, build_demo_suite
from harness.workspace import Workspace
from tests.harness.backends._support import write_eval_set


def test_suite_has_the_baselines_and_each_trained_candidate(tmp_path: Path) -> None:
    files = write_eval_set(tmp_path / "extract", n_train=5, n_test=5)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    full = tmp_path / "full"
    full.mkdir()
    ctx = DemoContext(workspace=None, out_dir=tmp_path, console=None, fast=True, base_model="/models/base",
                      splits={"extract": {"train": files / "train.jsonl", "test": files / "test.jsonl"}},
                      models={"lora-extract": adapter, "full-extract": full})
    suite = build_demo_suite(ctx)
    by_name = {c.name: c for c in suite.candidates}
    assert list(by_name) == ["base-zero-shot", "base-few-shot", "full-extract", "lora-extract"]
    assert by_name["base-zero-shot"].model == "/models/base" and by_name["base-few-shot"].model == "/models/base"
    assert by_name["lora-extract"].model == "/models/base" and by_name["lora-extract"].adapter == str(adapter)
    assert by_name["full-extract"].model == str(full) and not by_name["full-extract"].adapter
    assert list(suite.metrics) == METRICS


@pytest.mark.slow
def test_demo_stage_fast(tmp_path: Path, tiny_model_dir: Path, tiny_lora_dir: Path) -> None:
    from harness.demo.eval import stage
    from harness.store.runs import get_run

    files = write_eval_set(tmp_path / "extract", n_train=10, n_test=12)
    ws = Workspace.open(tmp_path / "ws")
    console = Console(record=True, width=200)
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=console, fast=True,
                      splits={"extract": {"train": files / "train.jsonl", "test": files / "test.jsonl"}},
                      base_model=str(tiny_model_dir), models={"lora-extract": tiny_lora_dir})
    stage(ctx)
    assert ctx.run_id is not None
    run = get_run(ws.engine, ctx.run_id)
    assert run is not None and run.status == "completed"
    summary = run.summary_json["candidates"]
    assert set(summary) == {"base-zero-shot", "base-few-shot", "lora-extract"}
    assert summary["lora-extract"]["test"]["json_valid"]["n"] == 10
    assert run.suite_json["resolved"]["candidates"]["lora-extract"]["adapter"] == str(tiny_lora_dir)
    text = console.export_text()
    assert "json_schema" in text and "base-few-shot" in text
    assert ctx.summary and ctx.summary[0][0] == "eval run" and "json_valid/json_schema/exact_match" in ctx.summary[0][1]


@pytest.mark.parametrize(("fast", "alias"), [(True, "tiny"), (False, "smollm2-135m-instruct")])
def test_without_the_train_stage_the_base_model_is_the_demos_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   fast: bool, alias: str) -> None:
    import harness.models.aliases
    from harness.demo.eval import base_model

    asked: list[str] = []
    monkeypatch.setattr(harness.models.aliases, "resolve_base_model",
                        lambda name: asked.append(name) or f"/cache/{name}")
    ctx = DemoContext(workspace=None, out_dir=tmp_path, console=None, fast=fast)
    assert base_model(ctx) == f"/cache/{alias}" and asked == [alias]
    ctx.base_model = "/trained/on/this"
    assert base_model(ctx) == "/trained/on/this" and asked == [alias]
