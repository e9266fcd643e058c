"""Printing a comparison with rich: the paired table, the ranking and the verdicts."""

from __future__ import annotations

from typing import Any

from harness.compare.report import ComparisonReport, fmt


def render(report: ComparisonReport, console: Any) -> None:
    """Print the paired table, the ranking and the verdicts on ``console``; returns nothing."""
    from rich import box
    from rich.table import Table

    table = Table(title=f"paired comparisons vs {report.baseline} ({report.correction}-adjusted p)", box=box.SIMPLE)
    for column in ("set", "metric", "candidate", "cand.", "base", "diff [95% CI]", "adj. p", "test"):
        table.add_column(column, no_wrap=column != "test")
    for r in report.ranking.comparisons:
        res = r.result
        table.add_row(r.dataset, r.metric, r.candidate, fmt(res.mean_a), fmt(res.mean_b),
                      f"{fmt(res.diff, True)} [{fmt(res.ci_low, True)}, {fmt(res.ci_high, True)}]",
                      "n/a" if r.adjusted_p != r.adjusted_p else f"{r.adjusted_p:.3g}", res.test)
    console.print(table)
    ranks = Table(title="ranking: mean [95% CI] (= not significantly below the leader)", box=box.SIMPLE)
    for column in ("set", "metric", "#", "candidate", "mean [95% CI]", "n", "="):
        ranks.add_column(column, no_wrap=column == "mean [95% CI]")
    for e in report.ranking.ranking:
        iv = e.interval
        ranks.add_row(e.dataset, e.metric, str(e.rank), e.candidate, f"{fmt(iv.estimate)} [{fmt(iv.low)}, {fmt(iv.high)}]",
                      str(iv.n), "=" if e.tied_with_best else "")
    console.print(ranks)
    for line in report.verdicts():
        console.print(f"- {line}", markup=False)
    for cand, m, result in report.forgetting:
        console.print(f"- {result.describe(cand, report.baseline, m)}", markup=False)
    for cand, result in report.overfitting:
        console.print(f"- training log of {cand}: {result.describe()}", markup=False)
    for dataset, n in report.dropped.items():
        if n:
            console.print(f"[yellow]note: {n} example(s) of {dataset} were not scored for every candidate and were left out")
