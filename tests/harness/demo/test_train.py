"""The demo's training stage: registers lora-extract and hands its path and the base model on."""

from __future__ import annotations

from pathlib import Path

from harness.demo import DemoContext


class _Console:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def print(self, *args, **_kwargs) -> None:
        self.lines.append(" ".join(str(a) for a in args))

    def rule(self, *args, **_kwargs) -> None:
        self.print(*args)


def _context(tmp_path: Path, extract_files: dict[str, Path], *, fast: bool) -> DemoContext:
    from harness.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    ctx = DemoContext(workspace=ws, out_dir=ws.folder("demo"), console=_Console(), fast=fast)
    ctx.splits["extract"] = {"train": extract_files["train"], "val": extract_files["val"]}
    return ctx


def test_fast_demo_stage_trains_and_registers_lora_extract(tmp_path, extract_files, tiny_model_dir):
    from harness.demo.train import MODEL_NAME, stage
    from harness.store.models import find_model

    ctx = _context(tmp_path, extract_files, fast=True)
    stage(ctx)
    record = find_model(ctx.workspace.engine, "lora-extract")
    assert MODEL_NAME == "lora-extract"
    assert record is not None and record.method == "lora"
    assert ctx.models == {"lora-extract": Path(record.path)}
    assert ctx.base_model is not None and Path(ctx.base_model) == Path(tiny_model_dir)
    label, value = ctx.summary[-1]
    assert label == "lora-extract" and f"-> {record.best_val_loss:.3f} (best) in {record.steps} steps" in value


def test_the_shipped_config_is_the_demos_recipe(tmp_path, extract_files):
    """trainers/configs/lora-extract.yaml reproduces the full demo's training (README: "Train: harness train ...")."""
    from harness.demo.train import demo_config
    from trainers.config import load_config

    shipped = load_config(Path(__file__).resolve().parents[3] / "trainers" / "configs" / "lora-extract.yaml")
    demo = demo_config(_context(tmp_path, extract_files, fast=False), extract_files)
    recipe = ("method", "base_model", "learning_rate", "batch_size", "effective_batch_size", "max_steps",
              "eval_steps", "warmup_steps", "weight_decay", "lr_scheduler", "max_train_examples",
              "max_val_examples", "max_length", "seed", "lora", "shared_prefix")
    assert {k: getattr(shipped, k) for k in recipe} == {k: getattr(demo, k) for k in recipe}
    assert Path(shipped.train_file).resolve().parts[-2:] == ("extract", "train.jsonl")
