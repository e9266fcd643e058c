"""``harness compare RUN_OR_CANDIDATE... [--json] [--metric ...] [--correction holm|bh]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.commands._common import JsonOption, WorkspaceOption


def compare(
    sources: Annotated[list[str], typer.Argument(help="Run ids, `latest`, RUN:candidate or predictions files.")],
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric(s) to compare (repeat or comma-separate); default: the run's suite metrics.")] = None,
    correction: Annotated[str, typer.Option("--correction", help="Multiple-comparison correction: holm or bh.")] = "holm",
    baseline: Annotated[str | None, typer.Option("--baseline", help="Candidate to compare against (default: best prompted baseline).")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    margin: Annotated[float, typer.Option("--margin", help="Non-inferiority margin for the forgetting check on `general`.")] = 0.02,
    json_output: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Paired comparison of candidates with adjusted p-values and a plain-language verdict per metric."""
    from harness.commands._common import console, open_workspace, print_json
    from harness.compare import build_comparison, load_sources, parse_metric_names, render
    from harness.errors import HarnessError

    if correction not in ("holm", "bh"):
        raise HarnessError(f"unknown correction {correction!r}", hint="use --correction holm or --correction bh")
    if not 0 < alpha < 1:
        raise HarnessError(f"--alpha {alpha} must be between 0 and 1")
    ws = open_workspace(workspace)
    metrics = parse_metric_names(metric)
    candidates, used = load_sources(sources, ws.root, metrics or None)
    report = build_comparison(candidates, used, baseline=baseline, correction=correction, alpha=alpha, margin=margin)
    human = human_results(ws, run_ids(candidates, ws.root))
    if json_output:
        print_json({**report.as_dict(), "human": [result.as_dict() for result in human]})
        return
    out = console()
    render(report, out)
    if human:
        from harness.review.results import render_results

        out.rule("human review")
        for result in human:
            render_results(result, out)


def run_ids(candidates, workspace_root: Path) -> list[str]:
    """Return the ids of the workspace runs the compared candidates come from (``RUN:candidate`` sources),
    each once in order; predictions files give none."""
    runs = Path(workspace_root) / "runs"
    found: list[str] = []
    for cand in candidates:
        run, sep, _name = str(cand.source).rpartition(":")
        if sep and (runs / run).is_dir() and run not in found:
            found.append(run)
    return found


def human_results(ws, runs: list[str]) -> list:  # -> list[harness.review.results.ReviewResults]
    """Return the review results of every batch enqueued from ``runs`` (``[]`` when none, and without
    creating a database in a workspace that has none)."""
    if not runs:
        return []
    url = str(ws.database_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    from harness.review.results import results_for_run

    return [result for run in runs for result in results_for_run(ws.engine, run)]
