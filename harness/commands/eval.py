"""``harness eval SUITE``: run an eval suite and print candidate x metric with 95% intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption

_LOCAL = "Local backends (transformers, vllm) only; overrides the suite's options."


def eval(
    suite: Annotated[Path, typer.Argument(help="Suite YAML file (datasets, candidates, generation, metrics).",
                                          show_default=False)],
    candidates: Annotated[str | None, typer.Option("--candidates", "-c",
                                                   help="Comma-separated candidate names (default: all).")] = None,
    datasets: Annotated[str | None, typer.Option(
        "--datasets", "-d", metavar="a,b", help="Comma-separated dataset names of the suite to run (default: all).")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", "-n", help="Use only the first N examples (in file order) of EACH dataset, not N in total.")]
    = None,
    batch_size: Annotated[str | None, typer.Option(
        "--batch-size", metavar="N|auto", help=f"Prompts per generation batch: a number, or 'auto' (the largest that fits memory "
                             f"and helps). The generation cache ignores it: cached answers are reused. {_LOCAL}",
        show_default=False)] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", metavar="N", help=f"CPU threads for generation. Not part of the cache key. {_LOCAL}",
        show_default=False)] = None,
    device: Annotated[str | None, typer.Option(
        "--device", metavar="cpu|cuda|auto", help=f"cpu, cuda (cuda:N) or auto (cuda when a GPU is visible). Not part of the cache key. "
                         f"{_LOCAL}", show_default=False)] = None,
    dtype: Annotated[str | None, typer.Option(
        "--dtype", metavar="TYPE", help="float32, bfloat16, float16 or auto (float32 on CPU, bfloat16 on CUDA). A set dtype is "
                        f"part of the cache key, as lower precision can change answers. {_LOCAL}",
        show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the newest unfinished run of this suite.")] = False,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Run SUITE: generate (reusing cached generations), score, store the run and print a table.

    Generations are cached by model files, prompt and generation settings (plus --dtype when set); batch
    size, threads and device only change speed, so changing them reuses the cache and may --resume a run.
    The last line (and --json's "timing") gives wall time, generation time, examples/s and tokens/s.
    An unknown metric, model or adapter stops the run before any generation. Candidates with
    `backend: openai` send the API key from the variable in their options.api_key_env (default
    OPENAI_API_KEY; null sends none) to base_url, never over plain http:// except to a loopback address.
    """
    from harness.commands._common import err_console, open_workspace, print_json
    from harness.runs.runner import run_suite
    from harness.runs.suite import RunOverrides, load_suite

    overrides = RunOverrides.from_flags(batch_size=batch_size, threads=threads, device=device, dtype=dtype)
    loaded = load_suite(suite)
    names = _names(candidates)
    dataset_names = _names(datasets)
    if dataset_names is not None:
        loaded.select_datasets(dataset_names)  # an unknown name fails before the workspace is opened
    ws = open_workspace(workspace)
    try:
        result = run_suite(loaded, ws, candidates=names, limit=limit, resume=resume, console=err_console(),
                           datasets=dataset_names, overrides=overrides)
    finally:
        ws.close()
    if json_output:
        print_json(result.as_dict())
        return
    from harness.commands._common import console
    from harness.runs.render import summary_table
    from harness.runs.timing import describe

    out = console()
    out.print(summary_table(result.summary, title=f"run {result.run_id}"))
    generated = sum(result.generated.values())
    cached = sum(result.cached.values())
    out.print(f"generated {generated}, reused {cached} cached; {describe(result.timing.as_dict())}; "
              f"run folder: {result.run_dir}", soft_wrap=True, highlight=False)


def _names(value: str | None) -> list[str] | None:
    """Comma-separated names as a list (None when the flag is absent or empty)."""
    names = [n.strip() for n in value.split(",") if n.strip()] if value else []
    return names or None
