"""``trainers.train(config)``: setup -> train -> save -> register, the same for every method.

Reads top to bottom like a recipe (torchtune's shape): resolve the base model, load and render the
data (assistant-only loss mask, overlength policy, optional general mix-in), let the method module
build the model, run the shared Trainer loop, save the weights in the model folder with the
resolved config, curves and lineage, then record the model in the workspace registry.
Under ``accelerate launch`` every process runs this; only the main process writes files and rows.
"""

from __future__ import annotations

import random
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.store.models import ModelRecord
from trainers.config import TrainConfig


def _is_main_process() -> bool:
    import os

    return int(os.environ.get("RANK", "0")) == 0


def load_splits(config: TrainConfig) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """Return (train, val, info): the train file (+ mix-in), and the val file or a held-out slice.

    Every file is checked line by line by the validator of ``harness data validate``: an invalid line
    stops here, or with ``skip_invalid`` is left out and listed in ``info["skipped_invalid"]``.
    """
    from trainers.data import default_general_file, mix_in, read_examples

    skipped: dict[str, Any] = {}

    def read(path: str | Path, field_name: str) -> list[dict]:
        rows, left_out = read_examples(path, field_name=field_name, skip_invalid=config.skip_invalid)
        if left_out is not None:
            skipped[field_name] = left_out.to_dict()
        return rows

    train = read(config.train_file, "train_file")
    info: dict[str, Any] = {"train_examples_in_file": len(train)}
    if config.val_file:
        val = read(config.val_file, "val_file")
    else:
        # A seeded shuffle-and-slice is enough here: the data helper's split_examples already kept
        # duplicate groups apart when the bundled train/val files were made.
        shuffled = list(train)
        random.Random(config.seed).shuffle(shuffled)
        n_val = max(1, round(len(shuffled) * config.val_fraction)) if len(shuffled) > 1 else 0
        val, train = shuffled[:n_val], shuffled[n_val:]
        if not val:
            raise ConfigError("config field `val_file`: not set and train_file has too few examples to hold out",
                              hint="set val_file, or add examples")
    if config.max_train_examples:
        train = train[: config.max_train_examples]
    if config.max_val_examples:
        val = val[: config.max_val_examples]
    if config.mix.fraction > 0:
        general_path = Path(config.mix.file) if config.mix.file else default_general_file()
        general = read(general_path, "mix.file")
        train, added = mix_in(train, general, config.mix.fraction, seed=config.seed)
        info["mix_in_added"] = added
        info["mix_in_file"] = str(general_path)
    info.update(train_examples=len(train), val_examples=len(val))
    if skipped:
        info["skipped_invalid"] = skipped
    return train, val, info


def dataset_hashes(config: TrainConfig) -> dict[str, str]:
    """SHA-256 of every data file the run read, keyed by config field."""
    from harness.io import file_sha256
    from trainers.data import default_general_file

    files = {"train_file": config.train_file, "val_file": config.val_file}
    if config.mix.fraction > 0:
        files["mix.file"] = config.mix.file or str(default_general_file())
    return {key: file_sha256(path) for key, path in files.items() if path and Path(path).exists()}


def train(config: TrainConfig, workspace=None, *, overwrite: bool = False,
          say: Callable[[str], None] | None = None) -> ModelRecord:
    """Train one candidate as ``config`` describes and register it; returns its :class:`ModelRecord`."""
    from harness.io import write_json
    from harness.models.aliases import resolve_base_model
    from harness.provenance import git_commit, package_versions
    from harness.store.models import find_model, register_model
    from harness.workspace import Workspace
    from trainers.data import as_features, render_dataset
    from trainers.loading import count_parameters, load_tokenizer
    from trainers.loop import run_trainer
    from trainers.methods import get_method

    say = say or print
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
    method = get_method(config.method)
    if method.check_available is not None:
        method.check_available()
    train_rows, val_rows, data_info = load_splits(config)  # invalid data stops before any model or folder work
    for field_name, left_out in data_info.get("skipped_invalid", {}).items():
        codes = ", ".join(f"{code} {n}" for code, n in sorted(left_out["by_code"].items()))
        say(f"warning: {field_name}: skipped {left_out['count']} invalid example(s) of {left_out['file']} "
            f"({codes}); first on line {left_out['first'][0]['line']}")
    folder = ws.models_dir / config.name
    if find_model(ws.engine, config.name) is not None and not overwrite:
        raise HarnessError(f"a model named {config.name!r} is already registered in {ws.root}",
                           hint="choose another `name`, or pass --force to retrain and replace it")
    if folder.exists() and not config.resume and _is_main_process():
        if any(folder.iterdir()) and not overwrite:
            raise HarnessError(f"{folder} exists from an earlier, unfinished run",
                               hint="pass resume=true to continue from its last checkpoint, or --force to start over")
        shutil.rmtree(folder)

    # setup ---------------------------------------------------------------------------------------
    import torch
    from transformers import set_seed

    set_seed(config.seed)
    base_path = resolve_base_model(config.base_model, progress=say)
    tokenizer = load_tokenizer(base_path, require_chat_template=True)
    train_set, train_report = render_dataset(tokenizer, train_rows, max_length=config.max_length,
                                             overlength=config.overlength)
    val_set, val_report = render_dataset(tokenizer, val_rows, max_length=config.max_length,
                                         overlength=config.overlength)
    for label, report in (("train", train_report), ("val", val_report)):
        if report.dropped_overlength or report.truncated:
            say(f"{label}: {report.dropped_overlength} examples dropped and {report.truncated} truncated "
                f"for max_length={config.max_length} (overlength={config.overlength})")
    model = method.prepare_model(base_path, config, tokenizer)
    trainable, total = count_parameters(model)
    say(f"{config.method} on {config.base_model}: {trainable:,} trainable of {total:,} parameters; "
        f"{len(train_set)} train / {len(val_set)} val examples")

    # train ---------------------------------------------------------------------------------------
    started = time.perf_counter()
    trainer, outcome = run_trainer(model, tokenizer, as_features(train_set), as_features(val_set), config,
                                   folder, warn=lambda msg: say(f"warning: {msg}"))
    if outcome.final_val_loss is None:  # fewer steps than eval_steps: evaluate once at the end
        outcome.final_val_loss = outcome.best_val_loss = float(trainer.evaluate()["eval_loss"])

    # save ----------------------------------------------------------------------------------------
    trainer.save_model(str(folder))  # every rank calls it (FSDP/DeepSpeed gather); the main one writes
    if not trainer.is_world_process_zero():  # the main process writes the folder and the registry row
        return ModelRecord(name=config.name, path=str(folder), base_model=config.base_model,
                           method=config.method, adapter=method.is_adapter)
    tokenizer.save_pretrained(str(folder))
    if not method.generation_use_cache:  # read by the loader: decode without the KV cache
        write_json(folder / "generation_config.json", {"use_cache": False})
    resolved = config.to_dict()
    write_json(folder / "train_config.json", resolved)
    lineage = {
        "base_model": config.base_model, "base_model_path": base_path, "method": config.method,
        "dataset_hashes": dataset_hashes(config), "git_commit": git_commit(),
        "package_versions": package_versions(), "data": data_info,
        "render": {"train": train_report.to_dict(), "val": val_report.to_dict()},
        "torch_threads": torch.get_num_threads(),
    }
    write_json(folder / "lineage.json", lineage)
    tokens_per_s = [row["tokens_per_s"] for row in outcome.history if "tokens_per_s" in row]
    record = ModelRecord(
        name=config.name, path=str(folder), base_model=config.base_model, base_model_path=base_path,
        method=config.method, adapter=method.is_adapter, config=resolved,
        dataset_hashes=lineage["dataset_hashes"], git_commit=lineage["git_commit"],
        package_versions=lineage["package_versions"], trainable_params=trainable, total_params=total,
        adapter_size_bytes=folder_size(folder) if method.is_adapter else None,
        wall_time_s=round(time.perf_counter() - started, 2), steps=outcome.global_step,
        final_train_loss=outcome.final_train_loss, final_val_loss=outcome.final_val_loss,
        best_val_loss=outcome.best_val_loss, curves_path=str(folder / "metrics.jsonl"),
        extra={"stopped_early": outcome.stopped_early, "best_checkpoint": outcome.best_checkpoint,
               "overfitting_warned": outcome.overfitting_warned, "render": lineage["render"],
               "data": data_info, "device": "cuda" if torch.cuda.is_available() else "cpu",
               "processes": trainer.args.world_size,
               "gradient_accumulation_steps": trainer.args.gradient_accumulation_steps,
               "precision": "bf16" if trainer.args.bf16 else "fp16" if trainer.args.fp16 else "fp32",
               "mean_tokens_per_s": round(sum(tokens_per_s) / len(tokens_per_s), 1) if tokens_per_s else None,
               "median_tokens_per_s": round(statistics.median(tokens_per_s), 1) if tokens_per_s else None},
    )
    stored = register_model(ws.engine, record, overwrite=True)
    say(f"registered {config.name}: val loss {_fmt(outcome.best_val_loss)} (best), "
        f"{outcome.global_step} steps in {record.wall_time_s:.1f}s -> {folder}")
    return stored


def summary_line(record: ModelRecord) -> str:
    """One tab-separated line per trained model (what ``harness train`` prints)."""
    return (f"{record.name}\t{record.method}\tbest val loss {_fmt(record.best_val_loss)}\t"
            f"{record.steps} steps\t{record.wall_time_s:.1f}s\t{record.path}")


def folder_size(path: Path, patterns: tuple[str, ...] = ("adapter_model.*",)) -> int:
    """Total bytes of the files in ``path`` matching ``patterns`` (the adapter weights by default)."""
    return sum(f.stat().st_size for pattern in patterns for f in path.glob(pattern) if f.is_file())


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
