"""Many candidates x metrics x eval sets at once: paired tests, multiplicity correction, a ranking.

Input is ``scores[candidate][(dataset, metric)]``: per-example scores aligned across candidates (the
same examples in the same order; ``None`` where a metric does not apply). Every comparison in the
family (all datasets, metrics and pairs) is adjusted together with
:func:`harness.stats.multiple.adjust_p_values` (Holm controls the family-wise error rate,
Benjamini-Hochberg the false discovery rate). The ranking orders candidates by mean per (dataset,
metric) with intervals and marks those not significantly different from the leader (paired tests
against the leader, Holm-adjusted within that dataset and metric).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from harness.stats.intervals import Interval, mean_interval
from harness.stats.multiple import Correction, adjust_p_values
from harness.stats.paired import PairedResult, paired_test

Key = tuple[str, str]  # (dataset, metric)


@dataclass(frozen=True)
class ComparisonRow:
    """``candidate`` vs ``baseline`` on one dataset and metric (difference = candidate - baseline)."""

    dataset: str
    metric: str
    candidate: str
    baseline: str
    result: PairedResult
    adjusted_p: float
    direction: str  # "better" | "worse" | "no_difference" | "differs" | "n/a"


@dataclass(frozen=True)
class RankEntry:
    """A candidate's place on one dataset and metric, with the interval of its mean."""

    dataset: str
    metric: str
    rank: int
    candidate: str
    interval: Interval
    tied_with_best: bool


@dataclass(frozen=True)
class RankingResult:
    """All comparisons (with adjusted p-values) and the per-(dataset, metric) ranking."""

    comparisons: tuple[ComparisonRow, ...]
    ranking: tuple[RankEntry, ...]
    correction: str
    alpha: float


def _direction(result: PairedResult, adjusted_p: float, alpha: float, higher_is_better: bool | None) -> str:
    if result.error and result.error != "no_difference":
        return "n/a"
    if not adjusted_p < alpha or result.diff == 0:
        return "no_difference"
    if higher_is_better is None:
        return "differs"
    return "better" if (result.diff > 0) == higher_is_better else "worse"


def compare_candidates(scores: Mapping[str, Mapping[Key, Sequence[float | None]]], kinds: Mapping[str, str],
                       baseline: str | None = None, correction: Correction = "holm", alpha: float = 0.05,
                       higher_is_better: Mapping[str, bool | None] | None = None, seed: int = 0) -> RankingResult:
    """Paired tests of each candidate against ``baseline`` (or of every pair when None), corrected, ranked.

    ``kinds[metric]`` is ``"binary"`` or ``"continuous"``; ``higher_is_better[metric]`` (default True)
    decides what "better" means (False for latency/cost, None when neither direction is better).
    """
    better = dict(higher_is_better or {})
    candidates = list(scores)
    keys = list(dict.fromkeys(key for per in scores.values() for key in per))  # first-seen order
    if baseline is not None:
        pairs = [(c, baseline) for c in candidates if c != baseline]
    else:
        pairs = list(combinations(candidates, 2))
    raw: list[tuple[str, str, str, str, PairedResult]] = []
    for dataset, metric_name in keys:
        for cand, base in pairs:
            a, b = scores[cand].get((dataset, metric_name)), scores[base].get((dataset, metric_name))
            if a is None or b is None:
                continue
            raw.append((dataset, metric_name, cand, base, paired_test(a, b, kinds.get(metric_name, "continuous"), seed=seed)))
    adjusted = adjust_p_values([r[4].p_value for r in raw], correction)
    rows = tuple(ComparisonRow(d, m, c, b, res, adj, _direction(res, adj, alpha, better.get(m, True)))
                 for (d, m, c, b, res), adj in zip(raw, adjusted, strict=True))
    return RankingResult(rows, _rank(scores, kinds, keys, better, alpha, seed), correction, alpha)


def _rank(scores: Mapping[str, Mapping[Key, Sequence[float | None]]], kinds: Mapping[str, str], keys: list[Key],
          better: Mapping[str, bool | None], alpha: float, seed: int) -> tuple[RankEntry, ...]:
    entries: list[RankEntry] = []
    for key in keys:
        kind = kinds.get(key[1], "continuous")
        present = {c: per[key] for c, per in scores.items() if key in per}
        intervals = {c: mean_interval(v, kind) for c, v in present.items()}
        sign = -1.0 if better.get(key[1], True) is False else 1.0
        order = sorted(intervals, key=lambda c: (-(sign * intervals[c].estimate) if intervals[c].n else float("inf"), c))
        if not order:
            continue
        leader = order[0]
        tests = [paired_test(present[c], present[leader], kind, seed=seed) for c in order[1:]]
        adjusted = adjust_p_values([t.p_value for t in tests], "holm")
        tied = [True] + [not (p < alpha) for p in adjusted]
        entries.extend(RankEntry(key[0], key[1], rank, c, intervals[c], tie)
                       for rank, (c, tie) in enumerate(zip(order, tied, strict=True), start=1))
    return tuple(entries)
