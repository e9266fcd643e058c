"""The demo's compare stage: every candidate of the eval stage's run against the best prompted baseline."""

from __future__ import annotations

from pathlib import Path

from harness.demo.context import DemoContext


def stage(ctx: DemoContext) -> None:
    """Compare the candidates of ``ctx.run_id``, print the result and write ``comparison.json``; sets
    ``ctx.comparison`` (returns nothing)."""
    from harness.compare import (
        DEFAULT_METRICS,
        build_comparison,
        load_sources,
        render,
        resolve_run,
        suite_metrics,
    )
    from harness.io import write_json

    run_id = ctx.run_id
    if not run_id:
        ctx.console.print("[yellow]no evaluation run from an earlier stage; skipping the comparison")
        ctx.report("comparison", "skipped (no run)")
        return
    root = Path(ctx.workspace.root)
    run_dir = resolve_run(root, str(run_id))
    metrics = suite_metrics(run_dir) or list(DEFAULT_METRICS)
    candidates, metrics = load_sources([str(run_id)], root, metrics)
    report = build_comparison(candidates, metrics)
    render(report, ctx.console)
    write_json(Path(ctx.out_dir) / "comparison.json", report.as_dict())
    ctx.comparison = report.as_dict()
    ctx.report("comparison", report.headline())
    for cand, m, result in report.forgetting[:3]:
        ctx.report(f"forgetting check {cand} ({m}, general)", result.status)
    for cand, result in report.overfitting:
        if result.flagged:
            ctx.report(f"overfitting {cand}", result.describe())
