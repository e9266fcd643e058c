"""The demo's training stage: registers lora-extract and hands its path and the base model on."""

from __future__ import annotations

from pathlib import Path


class _Console:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, *args, **_kwargs) -> None:
        self.lines.append(" ".join(str(a) for a in args))

    def rule(self, *args, **_kwargs) -> None:
        self.print(*args)


def _context(tmp_path: Path, extract_files: dict[str, Path], *, fast: bool):
    from harness.demo import DemoContext
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=_Console(), fast=fast)
    ctx.artifacts["splits"] = {"extract": {"train": extract_files["train"], "val": extract_files["val"]}}
    return ctx


def test_fast_demo_stage_trains_and_registers_lora_extract(tmp_path, extract_files, tiny_model_dir):
    from trainers.demo import stage
    from trainers.registry import find_model

    ctx = _context(tmp_path, extract_files, fast=True)
    stage(ctx)
    record = find_model(ctx.workspace, "lora-extract")
    assert record is not None and record.method == "lora"
    assert ctx.artifacts["models"]["lora-extract"] == record.path
    assert Path(ctx.artifacts["base_model"]) == Path(tiny_model_dir)
    label, value = ctx.summary[-1]
    assert label == "lora-extract" and "val loss" in value and "steps" in value


def test_the_shipped_config_is_the_demos_recipe(tmp_path, extract_files):
    """trainers/configs/lora-extract.yaml reproduces the full demo's training (README: "Train: harness train ...")."""
    from trainers.config import load_config
    from trainers.demo import demo_config

    shipped = load_config(Path(__file__).resolve().parents[2] / "trainers" / "configs" / "lora-extract.yaml")
    demo = demo_config(_context(tmp_path, extract_files, fast=False), extract_files)
    recipe = ("method", "base_model", "learning_rate", "batch_size", "effective_batch_size", "max_steps",
              "eval_steps", "warmup_steps", "weight_decay", "lr_scheduler", "max_train_examples",
              "max_val_examples", "max_length", "seed", "lora", "shared_prefix")
    assert {k: getattr(shipped, k) for k in recipe} == {k: getattr(demo, k) for k in recipe}
    assert Path(shipped.train_file).resolve().parts[-2:] == ("extract", "train.jsonl")
