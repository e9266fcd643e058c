"""The demo's review stage: human review queues filled by three simulated reviewers.

From the eval stage's run it enqueues a blind pairwise batch (the fine-tuned candidate against the best
prompted baseline) and a rubric batch (the fine-tuned candidate's outputs), each item reviewed by all
three reviewers (overlap 3). The reviewers (:mod:`harness.review.simulate`) judge against the
references with a known noise level, through the real queue. The stage prints agreement, win rates and
the metric-human agreement of both batches.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.demo.context import DemoContext

REVIEWERS = ("ana", "ben", "chen")
NOISE = 0.2


def pick_pair(ctx: DemoContext, root: Path, run_id: str) -> tuple[str, str] | None:
    """Return ``(fine-tuned candidate, best prompted baseline)`` of the run (the compare stage's baseline
    when it ran), or ``None`` when the run has fewer than two candidates."""
    from harness.compare import build_comparison, load_sources, resolve_run, suite_metrics

    run_dir = resolve_run(root, run_id)
    if len([p for p in (run_dir / "predictions").glob("*") if p.is_dir()]) < 2:
        return None
    candidates, metrics = load_sources([run_id], root, suite_metrics(run_dir) or None)
    baseline = (ctx.comparison or {}).get("baseline")
    if baseline not in [c.name for c in candidates]:
        baseline = build_comparison(candidates, metrics).baseline
    others = [c for c in candidates if c.name != baseline]
    tuned = [c.name for c in others if not c.prompted] or [c.name for c in others]
    return tuned[0], baseline


def stage(ctx: DemoContext) -> None:
    """Enqueue, simulate and summarise the review batches of ``ctx.run_id``; sets ``ctx.review`` (the results
    as dicts by batch kind) and reports one ``human review`` line (returns nothing)."""
    run_id = ctx.run_id
    if not run_id:
        ctx.console.print("[yellow]no evaluation run from an earlier stage; skipping the human review")
        ctx.report("human review", "skipped (no run)")
        return
    root = Path(ctx.workspace.root)
    pair = pick_pair(ctx, root, str(run_id))
    if pair is None:
        ctx.console.print("[yellow]the run has fewer than two candidates; skipping the human review")
        ctx.report("human review", "skipped (fewer than two candidates)")
        return
    tuned, baseline = pair
    from harness.io import write_json
    from harness.review.queue import get_batch, items, labels
    from harness.review.results import render_results, review_results
    from harness.review.sampling import build_batch
    from harness.review.simulate import simulate_reviews

    engine = ctx.workspace.engine
    n = 10 if ctx.fast else 30
    found: dict[str, Any] = {}
    for kind, candidates in (("pairwise", [tuned, baseline]), ("rubric", [tuned])):
        batch = build_batch(engine, root, str(run_id), candidates=candidates, n=n, kind=kind, strategy="random",
                            overlap=len(REVIEWERS), seed=0)
        submitted = simulate_reviews(engine, batch.id, REVIEWERS, noise=NOISE, seed=0)
        ctx.console.print(f"{kind} batch {batch.id}: {batch.n_items} items of {' vs '.join(batch.candidates)}, "
                          f"{submitted} reviews by {', '.join(REVIEWERS)} (simulated, noise {NOISE})",
                          markup=False, highlight=False)
        found[kind] = review_results(get_batch(engine, batch.id), items(engine, batch.id), labels(engine, batch.id))
        render_results(found[kind], ctx.console)
    ctx.review = {kind: result.as_dict() for kind, result in found.items()}
    write_json(Path(ctx.out_dir) / "review.json", ctx.review)
    ctx.report("human review", summary_line(found["pairwise"], found["rubric"]))


def _num(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f}"


def summary_line(pairwise: Any, rubric: Any) -> str:
    """Return the closing line from the two batches' :class:`harness.review.results.ReviewResults`: the win rate
    of the first pairwise candidate, Krippendorff's alpha on the rubric's human score, and the automatic
    metric that agrees best with the reviewers."""
    parts = []
    for r in pairwise.win_rates:
        parts.append(f"win rate of {r.candidate_a} over {r.candidate_b} {_num(r.win_rate)} "
                     f"[{_num(r.ci_low)}, {_num(r.ci_high)}] ({r.ties} ties of {r.n})")
    field = next((a for a in rubric.agreement if a.field == rubric.human_score), None)
    if field is not None:
        parts.append(f"{field.field} agreement alpha {_num(field.alpha.value)} ({field.alpha.n_items} items)")
    best = rubric.best_metric() or pairwise.best_metric()
    if best is not None:
        parts.append(f"closest metric {best.metric} (Spearman rho {_num(best.correlation.rho)})")
    return f"{len(pairwise.reviewers)} simulated reviewers: " + "; ".join(parts)
