"""Building a comparison: alignment, the baseline, paired tests, verdicts, forgetting and overfitting."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.compare.loading import CandidateScores
from harness.errors import HarnessError
from harness.io import json_safe


def metric_kinds(metrics: Sequence[str]) -> dict[str, str]:
    """``{metric: "binary" | "continuous"}`` from the registry."""
    from harness.metrics.base import get_metric

    return {m: get_metric(m).kind for m in metrics}


def higher_is_better(metric_name: str) -> bool | None:
    """The direction the metric declares when registered: True, False (latency, cost) or None (neither,
    e.g. length_ratio, where closer to 1 is better)."""
    from harness.metrics.base import metric_info

    return metric_info(metric_name).higher_is_better


def align(candidates: Sequence[CandidateScores], metrics: Sequence[str]):
    """Per-example scores aligned by id: ``({cand: {(dataset, metric): values}}, {dataset: n_dropped})``.

    Only ids every candidate has on a dataset are kept (in the first candidate's order).
    """
    datasets = list(dict.fromkeys(d for c in candidates for d in c.datasets))
    datasets.sort(key=lambda d: d == "general")  # the forgetting set last
    aligned: dict[str, dict[tuple[str, str], list[float | None]]] = {c.name: {} for c in candidates}
    dropped: dict[str, int] = {}
    for dataset in datasets:
        having = [c for c in candidates if dataset in c.datasets]
        if len(having) < 2:
            continue
        common = set(having[0].datasets[dataset][0])
        for c in having[1:]:
            common &= set(c.datasets[dataset][0])
        order = [i for i in having[0].datasets[dataset][0] if i in common]
        dropped[dataset] = max(len(c.datasets[dataset][0]) for c in having) - len(order)
        for c in having:
            ids, scores, _meta = c.datasets[dataset]
            position = {i: k for k, i in enumerate(ids)}
            for m in metrics:
                if m in scores:
                    aligned[c.name][(dataset, m)] = [scores[m][position[i]] for i in order]
    return aligned, dropped


def _mean(values: Sequence[float | None]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else float("nan")


def choose_baseline(candidates: Sequence[CandidateScores], aligned: Mapping[str, Mapping[tuple[str, str], Sequence[float | None]]],
                    metrics: Sequence[str], baseline: str | None = None) -> str:
    """The baseline's name: explicit, else the best prompted baseline, else the last candidate."""
    names = [c.name for c in candidates]
    if baseline is not None:
        if baseline not in names:
            raise HarnessError(f"--baseline {baseline!r} is not one of the candidates", hint=f"choose from {', '.join(names)}")
        return baseline
    prompted = [c.name for c in candidates if c.prompted]
    named_base = [n for n in prompted if n.startswith("base")]
    prompted = named_base or prompted  # a candidate called base-* is the clearest sign of a baseline
    if not prompted or len(prompted) == len(names) == 2:
        return names[-1]
    datasets = [d for d, _m in next(iter(aligned.values())).keys()] if aligned else []
    main = next((d for d in dict.fromkeys(datasets) if d != "general"), datasets[0] if datasets else None)
    metric_name = metrics[0]
    sign = -1.0 if higher_is_better(metric_name) is False else 1.0

    def score(name: str) -> float:
        value = _mean(aligned[name].get((main, metric_name), []))
        return -math.inf if math.isnan(value) else sign * value

    return max(prompted, key=score)


def fmt(value: float | None, signed: bool = False, digits: int = 3) -> str:
    """Format a number for verdicts ("n/a" for None/NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def verdict(row: Any, alpha: float) -> str:
    """Plain-language verdict of one :class:`harness.stats.ranking.ComparisonRow`."""
    r = row.result
    where = f"on {row.metric}" + (f" ({row.dataset})" if row.dataset != "test" else "")
    numbers = f"{fmt(r.diff, True)} [{fmt(r.ci_low, True)}, {fmt(r.ci_high, True)}], adjusted p={row.adjusted_p:.3g}" \
        if not math.isnan(row.adjusted_p) else f"{fmt(r.diff, True)}"
    if row.direction == "better":
        return f"{row.candidate} beats {row.baseline} {where} by {numbers}"
    if row.direction == "worse":
        return f"{row.candidate} is worse than {row.baseline} {where} by {numbers}"
    if row.direction == "differs":
        return f"{row.candidate} differs from {row.baseline} {where} by {numbers}"
    if row.direction == "n/a":
        return f"{row.candidate} vs {row.baseline} {where}: not computed ({r.error})"
    return f"no significant difference between {row.candidate} and {row.baseline} {where}: {numbers} (alpha={alpha:g})"


@dataclass(frozen=True)
class ComparisonReport:
    """What ``harness compare`` shows: comparisons with verdicts, ranking, forgetting checks."""

    baseline: str
    metrics: tuple[str, ...]
    correction: str
    alpha: float
    ranking: Any  # harness.stats.ranking.RankingResult
    forgetting: tuple[tuple[str, str, Any], ...]  # (candidate, metric, NonInferiorityResult)
    dropped: Mapping[str, int]
    margin: float
    overfitting: tuple[tuple[str, Any], ...] = ()  # (candidate, OverfittingResult) for trained candidates

    def verdicts(self) -> list[str]:
        """One plain-language sentence per comparison."""
        return [verdict(row, self.alpha) for row in self.ranking.comparisons]

    def headline(self) -> str:
        """The most useful single sentence: the biggest significant win, else the closest call."""
        rows = list(self.ranking.comparisons)
        wins = [r for r in rows if r.direction == "better" and r.dataset != "general"]
        if wins:
            best = min(wins, key=lambda r: (r.adjusted_p, -abs(r.result.diff)))
            return verdict(best, self.alpha)
        rows = [r for r in rows if r.dataset != "general"] or rows
        if not rows:
            return "nothing to compare"
        return verdict(min(rows, key=lambda r: (math.inf if math.isnan(r.adjusted_p) else r.adjusted_p)), self.alpha)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``harness compare --json``)."""
        comparisons = [{"dataset": r.dataset, "metric": r.metric, "candidate": r.candidate, "baseline": r.baseline,
                        **r.result.as_dict(), "adjusted_p": r.adjusted_p, "direction": r.direction,
                        "verdict": verdict(r, self.alpha)}
                       for r in self.ranking.comparisons]
        ranking = [{"dataset": e.dataset, "metric": e.metric, "rank": e.rank, "candidate": e.candidate,
                    "mean": e.interval.estimate, "ci": e.interval.as_list(), "n": e.interval.n,
                    "tied_with_best": e.tied_with_best} for e in self.ranking.ranking]
        forgetting = [{"candidate": c, "baseline": self.baseline, "metric": m, "passed": f.passed, "diff": f.diff,
                       "ci": [f.ci_low, f.ci_high], "margin": f.margin, "p_value": f.p_value,
                       "n": f.n, "error": f.error, "status": f.status, "verdict": f.describe(c, self.baseline, m)} for c, m, f in self.forgetting]
        overfitting = [{"candidate": c, "flagged": o.flagged, "best_step": o.best_step,
                        "best_val_loss": o.best_val_loss, "last_val_loss": o.last_val_loss,
                        "error": o.error, "message": o.describe()} for c, o in self.overfitting]
        return json_safe({"baseline": self.baseline, "metrics": list(self.metrics), "correction": self.correction,
                          "alpha": self.alpha, "comparisons": comparisons, "ranking": ranking,
                          "forgetting": forgetting, "overfitting": overfitting,
                          "dropped_unmatched": dict(self.dropped), "headline": self.headline()})


def build_comparison(candidates: Sequence[CandidateScores], metrics: Sequence[str], baseline: str | None = None,
                     correction: str = "holm", alpha: float = 0.05, margin: float = 0.02) -> ComparisonReport:
    """Compare every candidate with the baseline on every dataset and metric (see module docstring)."""
    from harness.stats.noninferiority import noninferiority_test
    from harness.stats.ranking import compare_candidates

    if correction not in ("holm", "bh", "bonferroni", "none"):
        raise HarnessError(f"unknown correction {correction!r}", hint="choose holm or bh")
    aligned, dropped = align(candidates, metrics)
    base = choose_baseline(candidates, aligned, metrics, baseline)
    kinds = metric_kinds(metrics)
    ranking = compare_candidates(aligned, kinds, baseline=base, correction=correction, alpha=alpha,  # type: ignore[arg-type]
                                 higher_is_better={m: higher_is_better(m) for m in metrics})
    forgetting = []
    trained = [c for c in candidates if not c.prompted and c.name != base]
    for cand in trained or [c for c in candidates if c.name != base]:
        for m in metrics:
            key = ("general", m)
            if key in aligned[cand.name] and key in aligned[base] and higher_is_better(m):
                forgetting.append((cand.name, m, noninferiority_test(aligned[cand.name][key], aligned[base][key], margin, alpha)))
    from harness.stats.overfitting import overfitting_signal, read_training_log

    overfitting = tuple((c.name, overfitting_signal(*read_training_log(c.training_log)))
                        for c in candidates if c.training_log is not None)
    return ComparisonReport(base, tuple(metrics), correction, alpha, ranking, tuple(forgetting), dropped, margin,
                            overfitting)
