"""``harness train CONFIG.yaml [key=value ...] [--sweep key=v1,v2]``: train and register candidates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption


def train(
    config: Annotated[Path, typer.Argument(help="Training config (YAML); see trainers/configs/lora-extract.yaml.")],
    overrides: Annotated[list[str] | None, typer.Argument(
        help="Dotted overrides, e.g. lora.r=32 lr=1e-4 max_steps=30.", show_default=False)] = None,
    sweep: Annotated[list[str] | None, typer.Option(
        "--sweep", help="Train one candidate per value: --sweep lora.r=8,16,32 (repeat for a grid).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a registered model of the same name.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the configs and their data files, and print "
                                          "the resolved configs only.")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Train on the lines `harness data validate` accepts and report the ones skipped "
        "(default: an invalid line stops training). Same as skip_invalid=true.")] = False,
    workspace: WorkspaceOption = None,
    json_output: JsonOption = False,
) -> None:
    """Train one candidate (or one per sweep value) and record it in the workspace model registry.

    Multi-GPU / multi-node: run the same command under accelerate, e.g.
    `accelerate launch $(which harness) train CONFIG.yaml` on GPUs, `torchrun --nproc_per_node 2 -m trainers
    CONFIG.yaml` on CPUs (see trainers/README.md).
    """
    from harness.commands._common import err_console, open_workspace, print_json
    from trainers.config import configs_from_file

    configs = configs_from_file(config, [*(overrides or []), *(["skip_invalid=true"] if skip_invalid else [])], sweep)
    if dry_run:
        from trainers.api import load_splits

        for resolved in configs:
            load_splits(resolved)  # an invalid data file stops the dry run as it would stop training
        print_json([c.to_dict() for c in configs])
        return
    from trainers.api import summary_line
    from trainers.api import train as train_model

    messages = err_console()
    ws = open_workspace(workspace)
    records = []
    for index, resolved in enumerate(configs, start=1):
        if len(configs) > 1:
            messages.rule(f"candidate {index}/{len(configs)}: {resolved.name}")
        records.append(train_model(resolved, ws, overwrite=force, say=lambda m: messages.print(m, markup=False)))
    import os

    if os.environ.get("RANK", "0") != "0":  # under accelerate/torchrun only the main process reports
        return
    if json_output:
        print_json([r.to_dict() for r in records] if len(records) > 1 else records[0].to_dict())
        return
    for record in records:
        typer.echo(summary_line(record))
