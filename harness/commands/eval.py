"""``harness eval SUITE``: run an eval suite and print candidate x metric with 95% intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    """Run SUITE: generate (reusing cached generations), score, store the run and print a table.

    An unknown metric, model or adapter stops the run before any generation. Candidates with
    `backend: openai` send the API key from the variable in their options.api_key_env (default
    OPENAI_API_KEY; null sends none) to base_url, never over plain http:// except to a loopback address.
    """
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
    from harness.runs.render import summary_table

    out = console()
    out.print(summary_table(result.summary, title=f"run {result.run_id}"))
    generated = sum(result.generated.values())
    cached = sum(result.cached.values())
    out.print(f"generated {generated}, reused {cached} cached; run folder: {result.run_dir}")
