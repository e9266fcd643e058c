"""``harness eval SUITE``: run an eval suite and print candidate x metric with 95% intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.commands._common import JsonOption, WorkspaceOption


def eval(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file (datasets, candidates, generation, metrics).",
                                          show_default=False)],
    candidates: Annotated[str | None, typer.Option("--candidates", "-c",
                                                   help="Comma-separated candidate names (default: all).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", help="Use only the first N examples of each dataset.")]
    = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the newest unfinished run of this suite.")] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run SUITE: generate (reusing cached generations), score, store the run and print a table."""
    from harness.commands._common import err_console, open_workspace, print_json
    from harness.runs.runner import run_suite
    from harness.runs.suite import load_suite

    loaded = load_suite(suite)
    names = [n.strip() for n in candidates.split(",") if n.strip()] if candidates else None
    ws = open_workspace(workspace)
    try:
        result = run_suite(loaded, ws, candidates=names, limit=limit, resume=resume, console=err_console())
    finally:
        ws.close()
    if json_output:
        print_json(result.as_dict())
        return
    from harness.commands._common import console

    out = console()
    out.print(summary_table(result.summary, title=f"run {result.run_id}"))
    generated = sum(result.generated.values())
    cached = sum(result.cached.values())
    out.print(f"generated {generated}, reused {cached} cached; run folder: {result.run_dir}")


def _fmt(entry: dict[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "-"
    text = f"{entry['mean']:.3f}"
    if entry.get("ci"):
        low, high = entry["ci"]
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def summary_table(summary: dict[str, Any], *, title: str = "") -> Any:
    """A rich table: one row per candidate x dataset, one column per metric (mean [95% CI])."""
    from rich.table import Table

    metrics: list[str] = list(summary.get("metrics") or [])
    for per_ds in summary.get("candidates", {}).values():
        for values in per_ds.values():
            metrics.extend(m for m in values if m not in metrics)
    table = Table(title=title or None)
    table.add_column("candidate")
    table.add_column("dataset")
    table.add_column("n", justify="right")
    for name in metrics:
        table.add_column(name, justify="right")
    for cand, per_ds in summary.get("candidates", {}).items():
        for ds, values in per_ds.items():
            n = max((v.get("n", 0) for v in values.values()), default=0)
            table.add_row(cand, ds, str(n), *[_fmt(values.get(m)) for m in metrics])
    return table
